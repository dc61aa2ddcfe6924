"""Translation memory: machine translations stored as each batch finishes (so an interrupted run resumes
where it stopped), human translations imported from TMX, XLIFF and PO and preferred over machine ones,
exact matches reused without the model, fuzzy matches shown to the user and given to the model as examples.

``open_memory(location)`` opens a SQLite file (the embedded default, sqlite.py) or, for a ``postgresql://`` URL,
a PostgreSQL memory shared by a team (postgres.py); base.py is the protocol both implement, fuzzy.py the
index keys and the match percentage, tmx.py TMX in and out, importer.py import and export.
"""

from bayling_cat.memory.base import (ENV, HUMAN, MACHINE, SCHEMA, Hit, Memory, MemoryError_, copy_memory,
                                     default_location, default_path, is_url)
from bayling_cat.memory.fuzzy import DEFAULT_THRESHOLD
from bayling_cat.memory.importer import export_tmx, import_files


def open_memory(location=None) -> Memory:
    """The memory at ``location`` (a file, or a postgresql:// URL); default: BAYLING_CAT_MEMORY, else
    memory.sqlite in the data folder. The one place that knows the backends."""
    location = default_location() if location is None else location
    if is_url(location):
        from bayling_cat.memory.postgres import PostgresMemory

        return PostgresMemory(location)
    from bayling_cat.memory.sqlite import SQLiteMemory

    return SQLiteMemory(location)


__all__ = ["DEFAULT_THRESHOLD", "ENV", "HUMAN", "MACHINE", "SCHEMA", "Hit", "Memory", "MemoryError_",
           "copy_memory", "default_location", "default_path", "export_tmx", "import_files", "is_url",
           "open_memory"]
