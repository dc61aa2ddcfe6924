"""The server's glossaries: one registry shared by every protocol (native, DeepL v2/v3) and the workbench.

Start-up glossaries (``serve --glossary``) are listed read-only, one record per language pair they hold, and
apply to every request of their pair; uploaded ones are applied when a request names them. The registry is
bounded (count and entries), like document jobs and conversations.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat.errors import UserError
from bayling_cat.glossary import Glossary, GlossaryError, Term, load
from bayling_cat.server.errors import ApiError

MAX_ENTRIES = 10_000  # glossary entries in one request
# glossaries uploaded through the API, held in memory (--glossary files are not counted): how many, and how
# many entries all of them hold together (an entry costs about 500 bytes: 200,000 are ~100 MB)
MAX_GLOSSARIES = 1_000
MAX_TOTAL_ENTRIES = 200_000
# characters XML 1.0 forbids, lone surrogates included (they cannot even be encoded as UTF-8)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class GlossaryRecord:
    id: str
    name: str
    glossary: Glossary
    created: float = field(default_factory=time.time)
    readonly: bool = False  # a --glossary file given at start: listed, applied to every request, not deletable
    # a multilingual (DeepL v3) glossary: one dictionary per (source, target) base-language pair; ``glossary``
    # is then its first dictionary, for the one-pair views of the other protocols
    dictionaries: dict = field(default_factory=dict)

    def for_pair(self, source_lang: str, target_lang: str) -> Glossary | None:
        if not self.dictionaries:
            return self.glossary
        return self.dictionaries.get((source_lang.split("-")[0], target_lang.split("-")[0]))

    def info(self) -> dict:
        return {"id": self.id, "name": self.name, "source_lang": self.glossary.source_lang,
                "target_lang": self.glossary.target_lang, "entry_count": len(self.glossary)}


class GlossaryRegistry:
    """Every glossary the server knows, by id. ``lock`` guards ``records`` for routes that read several."""

    def __init__(self, files=(), workdir: Path | None = None, max_glossaries: int = MAX_GLOSSARIES,
                 max_entries: int = MAX_TOTAL_ENTRIES):
        self.lock = threading.RLock()
        self.records: dict[str, GlossaryRecord] = {}
        self.files: list[Path] = [Path(f) for f in files]
        self.workdir = Path(workdir) if workdir else Path(tempfile.gettempdir())
        self.max_glossaries, self.max_entries = max_glossaries, max_entries
        self._loaded: dict[tuple[str, str], list[Glossary]] = {}
        for number, path in enumerate(self.files, 1):
            self._list_startup(number, path)

    def get(self, gid: str) -> GlossaryRecord | None:
        with self.lock:
            return self.records.get(gid)

    def all(self) -> list[GlossaryRecord]:
        with self.lock:
            return list(self.records.values())

    def check_remove(self, gid: str) -> None:
        """Refuse to delete a glossary given at start-up."""
        record = self.records.get(gid)
        if record is not None and record.readonly:
            raise ApiError(409, f"glossary {gid!r} ({record.name}) was loaded at start-up (serve --glossary) and is "
                                "read-only: restart the server without it to remove it")

    def remove(self, gid: str, missing: str | None = None) -> None:
        with self.lock:
            self.check_remove(gid)
            if self.records.pop(gid, None) is None:
                raise ApiError(404, missing or f"unknown glossary {gid!r}")

    def add(self, name: str, glossary: Glossary, dictionaries: dict | None = None) -> GlossaryRecord:
        """A new glossary (a multilingual one: ``dictionaries`` per language pair); refused (413) past the
        server's bound."""
        record = GlossaryRecord(uuid.uuid4().hex[:16], name, glossary)
        with self.lock:
            self.room(sum(len(g) for g in dictionaries.values()) if dictionaries else len(glossary))
            if dictionaries:
                record.dictionaries = dictionaries
            self.records[record.id] = record
        return record

    def room(self, entries: int, replacing: GlossaryRecord | None = None) -> None:
        """Refuse (413) a glossary of ``entries`` entries (or ``replacing``'s new content) that would take the
        server past its bound in glossaries or entries, as jobs and conversations are bounded."""
        with self.lock:
            others = [r for r in self.records.values() if not r.readonly and r is not replacing]
            if replacing is None and len(others) >= self.max_glossaries:
                raise ApiError(413, f"the server holds {len(others)} glossaries, the most it keeps; delete one first")
            held = sum(_entries(r) for r in others)
            if held + entries > self.max_entries:
                raise ApiError(413, f"the server's glossaries hold {held} entries; {entries} more would pass the "
                                    f"{self.max_entries} it keeps; delete a glossary first")

    def from_file(self, name: str, data: bytes, filename: str, source_lang: str, target_lang: str):
        suffix = Path(filename or "glossary.csv").suffix.lower() or ".csv"
        path = self.workdir / f"{uuid.uuid4().hex}{suffix}"
        path.write_bytes(data)
        try:
            glossary = load(path, source_lang, target_lang)
        except UserError as exc:
            raise ApiError(400, str(exc).replace(str(path), filename or "glossary")) from None
        finally:
            path.unlink(missing_ok=True)
        return self.add(name, glossary)

    def _startup_glossaries(self, source_lang, target_lang) -> list[Glossary]:
        """The --glossary files for one language pair, read once."""
        key = (source_lang, target_lang)
        with self.lock:
            cached = self._loaded.get(key)
        if cached is None:
            cached = []
            for path in self.files:
                try:
                    cached.append(load(path, source_lang, target_lang))
                except GlossaryError:
                    continue  # a startup glossary for another language pair
            with self.lock:
                self._loaded[key] = cached
        return cached

    def _list_startup(self, number: int, path: Path) -> None:
        """List a --glossary file under /v1/glossaries and /v2/glossaries: one read-only record per language
        pair it holds (at most 20), ids startup-N-SRC-TGT."""
        codes = glossary_languages(path)
        pairs = [(a, b) for a in codes for b in codes if a.split("-")[0] != b.split("-")[0]][:20]
        for source_lang, target_lang in pairs:
            try:
                glossary = load(path, source_lang, target_lang)
            except UserError:
                continue
            gid = f"startup-{number}-{source_lang}-{target_lang}"
            self.records[gid] = GlossaryRecord(gid, path.name, glossary, readonly=True)

    def for_request(self, source_lang, target_lang, ids) -> Glossary | None:
        chosen = list(self._startup_glossaries(source_lang, target_lang))
        with self.lock:
            for gid in ids:
                record = self.records.get(gid)
                if record is None:
                    raise ApiError(404, f"unknown glossary {gid!r}")
                if record.readonly:
                    continue  # a start-up glossary applies to its language pair already
                if record.dictionaries:
                    g = record.for_pair(source_lang, target_lang)
                    if g is None:
                        raise ApiError(400, f"glossary {gid!r} has no dictionary for {source_lang} -> {target_lang}")
                    chosen.append(Glossary(g.terms, source_lang, target_lang, g.name))
                    continue
                g = record.glossary
                if g.source_lang.split("-")[0] != source_lang.split("-")[0] or \
                        g.target_lang.split("-")[0] != target_lang.split("-")[0]:
                    raise ApiError(400, f"glossary {gid!r} is {g.source_lang} -> {g.target_lang}, not "
                                        f"{source_lang} -> {target_lang}")
                chosen.append(Glossary(g.terms, source_lang, target_lang, g.name))
        return Glossary.merge(chosen)



def _entries(record: GlossaryRecord) -> int:
    return sum(len(g) for g in record.dictionaries.values()) if record.dictionaries else len(record.glossary)


def glossary_languages(path: Path) -> list[str]:
    """The language codes a TBX (its langSets) or CSV/TSV glossary (its header) holds, in file order."""
    from bayling_cat import languages

    try:
        data = path.read_bytes()
    except OSError:
        return []
    found: list[str] = []
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            return []
        xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
        cells = [el.get(xml_lang) or el.get("lang") or "" for el in root.iter()
                 if isinstance(el.tag, str) and etree.QName(el).localname in ("langSet", "langSec")]
    else:
        first = data.decode("utf-8-sig", "replace").splitlines()[:1]
        line = first[0] if first else ""
        cells = line.split("\t") if line.count("\t") > line.count(",") else line.split(",")
    for cell in cells:
        try:
            code = languages.normalize(cell.strip().strip('"'))
        except UserError:
            continue
        if code not in found:
            found.append(code)
    return found


def entries_glossary(entries, source_lang: str, target_lang: str) -> Glossary:
    """Glossary entries from a request ({source, target, kind}), each field checked for type and content."""
    if not isinstance(entries, list):
        raise ApiError(400, "'terms' and 'entries' must be lists of {source, target, kind}")
    if len(entries) > MAX_ENTRIES:
        raise ApiError(413, f"at most {MAX_ENTRIES:,} glossary entries in one request")
    terms: dict[str, Term] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ApiError(400, f"entry {i}: an object with 'source', 'target' and 'kind'")
        kind = e.get("kind", "preferred")
        if kind not in ("preferred", "admitted", "forbidden", "dnt"):
            raise ApiError(400, f"entry {i}: 'kind' must be preferred, admitted, forbidden or dnt")
        source, target = e.get("source"), e.get("target")
        if not isinstance(source, str) or not source.strip():
            raise ApiError(400, f"entry {i}: 'source' must be a non-empty string")
        if target is not None and not isinstance(target, str):
            raise ApiError(400, f"entry {i}: 'target' must be a string")
        if kind != "dnt" and (target is None or not target.strip()):
            raise ApiError(400, f"entry {i}: 'target' is required")
        for name, value in (("source", source), ("target", target or "")):
            if len(value) > 1000 or NOT_XML.search(value):
                raise ApiError(400, f"entry {i}: '{name}' must be at most 1,000 characters of valid text")
        term = terms.setdefault(source.strip().lower(), Term(source.strip(), origin=f"entry {i}"))
        if kind == "dnt":
            term.dnt = True
        elif kind == "forbidden":
            term.forbidden.append(target.strip())
        elif kind == "preferred":
            term.targets.insert(0, target.strip())
        else:
            term.targets.append(target.strip())
    usable = [t for t in terms.values() if t.targets or t.forbidden or t.dnt]
    return Glossary(usable, source_lang, target_lang, "inline")
