"""Loading human translations into a memory (TMX, XLIFF, PO) and writing a memory out as TMX."""

from __future__ import annotations

import codecs
from pathlib import Path

from bayling_cat.memory.base import BATCH, HUMAN, Memory, MemoryError_


def _is_tmx(head: bytes) -> bool:
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            head = head.decode(codec, errors="ignore").encode("utf-8")
    return b"<tmx" in head


def import_files(memory: Memory, paths, source_lang: str | None = None, target_lang: str | None = None,
                 strict: bool = False, warn=None, progress=None) -> int:
    """Human translations from TMX files (every unit), XLIFF (approved/confirmed/final segments) and PO
    (non-fuzzy entries), stored in batches. A unit that cannot be imported is named (file and line) through
    ``warn`` and skipped; with ``strict`` it stops the import (the batches before it stay imported).
    ``progress(total_bytes)``: a progress bar for a file (update(bytes)), or None."""
    total = 0
    for path in paths:
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
            size = path.stat().st_size
        except OSError as exc:
            raise MemoryError_(f"{path}: cannot read ({exc.strerror or exc})") from None
        if not head:
            raise MemoryError_(f"{path}: an empty file")
        bar = progress(size) if progress else None
        try:
            if _is_tmx(head):
                rows = _tmx_rows(path, source_lang, target_lang, strict, warn, bar.update if bar else None)
            else:
                rows = _document_rows(path, source_lang, target_lang, head, bar.update if bar else None)
            batch: list[dict] = []
            try:
                for row in rows:
                    batch.append(row)
                    if len(batch) >= BATCH:
                        memory.add(batch, bulk=True)
                        total += len(batch)
                        batch = []
            finally:
                if batch:
                    memory.add(batch, bulk=True)
                    total += len(batch)
                memory.finish_import()
        finally:
            if bar is not None:
                bar.close()
    return total


def _tmx_rows(path: Path, source_lang, target_lang, strict, warn, progress):
    from bayling_cat.memory.tmx import _NotTmx, read_tmx

    try:
        for unit in read_tmx(path, source_lang, target_lang, progress):
            if unit.error:
                if strict:
                    raise MemoryError_(f"{path}, line {unit.line}: a translation unit that cannot be imported: "
                                       f"{unit.error}; stopped (--strict), the units before it are imported")
                if warn:
                    warn(f"{path}, line {unit.line}: unit skipped: {unit.error}")
                continue
            yield {"source": unit.source, "target": unit.target, "source_lang": unit.source_lang,
                   "target_lang": unit.target_lang, "origin": HUMAN, "codes": unit.codes or None,
                   "created": unit.created}
    except _NotTmx as exc:
        raise MemoryError_(f"{path}: {exc}") from None
    except OSError as exc:
        raise MemoryError_(f"{path}: cannot read ({exc.strerror or exc})") from None


def _pieces(path: Path, head: bytes, progress=None):
    """The file as documents its connector reads: an XLIFF or PO file in pieces of a few thousand units
    (chunks.py), so that a file of any size is imported with bounded memory; anything else whole."""
    from bayling_cat.connectors.po import looks_like_po
    from bayling_cat.connectors.xmlio import looks_like_xml
    from bayling_cat.memory import chunks

    try:
        if looks_like_xml(head):
            yield from chunks.xliff_chunks(path, progress=progress)
        elif not head.startswith(b"PK\x03\x04") and looks_like_po(head):
            yield from chunks.po_chunks(path, progress=progress)
        else:
            data = path.read_bytes()
            if progress:
                progress(len(data))
            yield data
    except chunks.ChunkError as exc:
        raise MemoryError_(f"{path}: {exc}") from None
    except OSError as exc:
        raise MemoryError_(f"{path}: cannot read ({exc.strerror or exc})") from None


def _document_rows(path: Path, source_lang, target_lang, head: bytes = b"", progress=None):
    """Approved XLIFF segments and non-fuzzy PO entries, unit by unit (each piece read by its connector)."""
    from bayling_cat import languages
    from bayling_cat.connectors import open_document
    from bayling_cat.document import align_target
    from bayling_cat.memory.tmx import stored_codes

    src = tgt = None
    for data in _pieces(path, head, progress):
        connector = open_document(path, data)
        if src is None:
            src = source_lang or connector.source_lang or connector.default_source_lang
            tgt = target_lang or connector.target_lang
            if not src or not tgt:
                raise MemoryError_(f"{path}: the file does not name its languages; pass --source-lang and "
                                   "--target-lang")
            src, tgt = languages.normalize(src), languages.normalize(tgt)
        for seg in connector.segments():
            # only finished human work: a target the file counts as done, in a segment not left for
            # translation, its codes matched to the source's (the memory keeps both as the pipeline sees them)
            if not seg.target or not seg.source.strip():
                continue
            if connector.format != "po" and not _confirmed(seg.skip):
                continue  # XLIFF: only approved, final, signed-off, reviewed or confirmed segments
            target = align_target(seg)
            if target is not None:
                yield {"source": seg.source.strip(), "target": target.strip(), "source_lang": src,
                       "target_lang": tgt, "hint": seg.hint, "origin": HUMAN, "codes": stored_codes(seg.codes)}


def _confirmed(reason: str | None) -> bool:
    return bool(reason) and (reason in ("approved", "final", "signed-off", "reviewed", "locked")
                             or reason.startswith("confirmed"))


def export_tmx(memory: Memory, out: Path, origin: str | None = None, progress=None) -> int:
    """The memory (or its human or machine part) as TMX 1.4, streamed. Flagged machine translations (those
    the engine or the quality checks marked for review) are left out: ``memory.stats()["flagged"]``."""
    from bayling_cat.memory.tmx import write_tmx

    return write_tmx(out, memory.units(origin), progress)
