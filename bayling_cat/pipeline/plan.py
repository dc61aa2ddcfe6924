"""Planning a run of the file pipeline: which files, which outputs, and no output that replaces a file the run
reads or another output (symbolic and hard links followed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from bayling_cat import languages
from bayling_cat.connectors import EXTENSIONS
from bayling_cat.document import COPIED, FLAGGED, SKIPPED, TRANSLATED, Segment
from bayling_cat.errors import UserError
from bayling_cat.fileio import check_distinct


@dataclass
class Options:
    source_lang: str | None = None
    target_lang: str | None = None
    mode: str = "target"  # "target": write targets; "suggest": proposals beside them
    overwrite: bool = False
    in_place: bool = False
    output: Path | None = None
    accelerator: str | None = None  # PO: the accelerator marker ("&" or "_"), moved by bayling-cat
    glossaries: list[Path] = field(default_factory=list)
    memory: Path | str | None = None  # the translation memory: a SQLite file or a postgresql:// URL (None: none)
    model_id: str | None = None  # what memory entries are keyed on: the model's name
    chunk: int = 64  # distinct sources translated (and stored in memory) together
    checks: bool = True  # translate-toolkit's quality checks on every machine translation
    max_revisions: int = 2
    term_strategy: str = "none"  # "force": put still-missing terms in as protected placeholders
    output_folder: bool = False  # -o was written as a folder (a trailing slash): outputs go inside it
    report: Path | None = None  # the --report file: checked against every file the run reads or writes
    fuzzy_threshold: int = 75  # percent: least memory match shown (report, suggestions) or given as an example


@dataclass
class FileResult:
    input: Path
    output: Path | None = None
    format: str | None = None
    source_lang: str | None = None
    target_lang: str | None = None
    error: str | None = None
    segments: list[Segment] = field(default_factory=list)
    connector: object = None
    declared_target_lang: str | None = None  # what the file declared when -t changed it

    def totals(self) -> dict:
        counts = {TRANSLATED: 0, COPIED: 0, SKIPPED: 0, FLAGGED: 0, "not_written": 0}
        if any(s.action == "checked" for s in self.segments):
            counts = {"checked": 0, SKIPPED: 0}
        for s in self.segments:
            counts[s.action] = counts.get(s.action, 0) + 1
            if s.action == FLAGGED and s.translation is None:
                counts["not_written"] += 1
        counts["segments"] = len(self.segments)
        return counts


def collect_inputs(inputs: Sequence[str], options: Options) -> list[tuple[Path, Path | None]]:
    """(input file, output file) pairs; output None means 'next to the input, named for the target language'.

    -o is a folder when there are several inputs or a folder of them, when it exists as a folder, or when it
    was written with a trailing slash (``-o out/``, ``options.output_folder``).
    """
    pairs: list[tuple[Path, Path | None]] = []
    many = len(inputs) > 1 or any(Path(i).is_dir() for i in inputs)
    out = options.output
    as_folder = out is not None and (many or options.output_folder or out.is_dir())
    if as_folder and out.exists() and not out.is_dir():
        raise UserError(f"{out}: several inputs need an output folder, and this is a file" if many else
                        f"{out}: -o ends with a slash (a folder), but this is a file")
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if out is None and not options.in_place:
                raise UserError(f"{path}: translating a folder needs -o OUTPUT_FOLDER or --in-place")
            for f in _folder_documents(path):
                pairs.append((f, None if out is None else _po_for_pot(out / f.relative_to(path))))
        elif not path.exists():
            pairs.append((path, None))  # reported as a failed file, the others still run
        elif out is None:
            pairs.append((path, None))
        elif as_folder:
            pairs.append((path, _po_for_pot(out / path.name)))
        else:
            pairs.append((path, out))
    return pairs


def _folder_documents(folder: Path) -> list[Path]:
    """The documents in a folder tree, sorted. An entry named like a document that is not a regular file (a
    broken symbolic link, a named pipe, a socket) is listed too, so that it is refused with one line rather
    than skipped in silence; it is never opened here (a pipe would block)."""
    found = []
    for p in folder.rglob("*"):
        if p.name.startswith(".") or p.is_dir():
            continue
        if p.is_file():
            if _looks_like_document(p):
                found.append(p)
        elif p.suffix.lower() in EXTENSIONS:
            found.append(p)
    return sorted(found)


def _po_for_pot(path: Path) -> Path:
    """A translated template is a catalogue: messages.pot is written as messages.po."""
    return path.with_suffix(".po") if path.suffix.lower() == ".pot" else path


def _looks_like_document(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    if path.suffix.lower() in EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            return b"<xliff" in fh.read(4096)
    except OSError:
        return False


def default_output(path: Path, target_lang: str, suffix: str | None = None) -> Path:
    """report.xlf -> report.de-DE.xlf; app.docx.sdlxliff -> app.docx.de-DE.sdlxliff; messages.pot -> messages.de.po.

    A file whose name already says the target language (po/fr.po or django_fr.po into French, guide.de.xlf
    into German) would get it twice (fr.fr.po): it becomes NAME.bayling-cat.EXT (po/fr.bayling-cat.po)
    instead; only --in-place writes into the file itself.
    """
    if named_for(path, target_lang):
        return path.with_name(f"{path.stem}.bayling-cat{suffix or path.suffix}")
    return path.with_name(f"{path.stem}.{target_lang}{suffix or path.suffix}")


def named_for(path: Path, target_lang: str) -> bool:
    """Whether the file name ends with the language: fr.po, pt_BR.po, django_fr.po, app-de.xlf, guide.de.xlf."""
    try:
        wanted = languages.normalize(target_lang)
    except UserError:
        return False
    parts = re.split(r"[._-]", path.stem)
    for tail in (path.stem, "-".join(parts[-2:]), parts[-1]):
        try:
            if languages.normalize(tail, strict=True) == wanted:
                return True
        except UserError:
            continue
    return False


def check_collisions(results: list[FileResult], options: Options) -> None:
    """Refuse a run in which a file it writes (an output, the .bak of --in-place, the report) is a file it
    reads (an input, a glossary, the memory) or another file it writes, whatever the spelling: symbolic
    links and hard links are followed."""
    reads: list[tuple[str, Path]] = [(f"the input {r.input}", r.input) for r in results]
    reads += [(f"the glossary {g}", Path(g)) for g in options.glossaries]
    if options.memory is not None:
        reads += [(f"the memory {options.memory}", Path(f"{options.memory}{end}")) for end in ("", "-wal", "-shm")]
    writes: list[tuple] = []
    for r in results:
        if r.error or r.output is None:
            continue
        if options.in_place:
            writes.append((f"the in-place output of {r.input}", r.output, r.input))
            writes.append((f"the backup of {r.input}", r.input.with_name(r.input.name + ".bak")))
        else:
            writes.append((f"the output of {r.input}", r.output))
    if options.report is not None:
        writes.append(("the report", Path(options.report)))
    check_distinct(writes, reads)


def _language(path: Path, code: str, which: str) -> str:
    try:
        return languages.normalize(code)
    except UserError:
        raise UserError(f"{path}: invalid {which} language {code!r}") from None
