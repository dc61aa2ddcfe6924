"""Reading the user's approved translations as references: TMX, XLIFF (approved, final, signed-off or
confirmed targets only), PO (translated, non-fuzzy entries) and pairs of plain-text files (one segment a line).

What counts as finished human work is what ``bayling-cat memory import`` takes from the same files: the
connectors read the file, a target the file marks as done is kept, and its inline codes are renumbered as in
the source (``document.align_target``), so that the model's placeholders can be compared with the reviewer's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat import languages
from bayling_cat.errors import UserError

TMX_CODES = {"bpt", "ept", "ph", "it", "ut"}  # TMX inline elements whose content is native code, not text


@dataclass
class Reference:
    """One approved translation: the source as the model sees it (placeholders for inline codes) and the
    reviewer's target with the same placeholders."""

    origin: str  # file and unit, for the report
    source: str
    reference: str
    source_lang: str
    target_lang: str
    codes: dict = field(default_factory=dict)
    hint: str | None = None


@dataclass
class ReferenceSet:
    references: list[Reference]
    source_lang: str
    target_lang: str
    files: list[dict]  # per file: path, format, languages, approved units read, units used
    available: int = 0  # references before sampling


def confirmed(reason: str | None) -> bool:
    """Whether a segment the connector skips is finished human work (the memory import's rule)."""
    return bool(reason) and (reason in ("approved", "final", "signed-off", "reviewed", "locked")
                             or reason.startswith("confirmed"))


def _matches(wanted: str | None, have: str | None) -> bool:
    """``fr`` asked matches ``fr-FR`` held and the other way round; ``fr-CA`` does not match ``fr-FR``."""
    if wanted is None:
        return True
    if have is None:
        return False
    if wanted == have:
        return True
    w, h = wanted.split("-"), have.split("-")
    return w[0] == h[0] and (len(w) == 1 or len(h) == 1)


def _language(path, code, which) -> str:
    try:
        return languages.normalize(code)
    except UserError:
        raise UserError(f"{path}: invalid {which} language {code!r}") from None


def read(paths, source_lang: str | None = None, target_lang: str | None = None,
         sample: int | None = None, seed: int = 1) -> ReferenceSet:
    """Every approved translation in ``paths`` for one language pair, optionally a reproducible sample."""
    src = languages.normalize(source_lang) if source_lang else None
    tgt = languages.normalize(target_lang) if target_lang else None
    found: list[Reference] = []
    files: list[dict] = []
    items = _expand(paths)
    i = 0
    while i < len(items):
        path = items[i]
        data = _read_bytes(path)
        kind = _kind(path, data)
        if kind == "text":
            if i + 1 >= len(items) or _kind(items[i + 1], _read_bytes(items[i + 1])) != "text":
                raise UserError(f"{path}: a plain-text source needs its reference file right after it "
                                "(SOURCE.txt REFERENCE.txt)")
            refs, entry = _text_pair(path, data, items[i + 1], _read_bytes(items[i + 1]), src, tgt)
            i += 2
        else:
            refs, entry = (_tmx if kind == "tmx" else _document)(path, data, src, tgt)
            i += 1
        found.extend(refs)
        files.append(entry)
    return _choose(found, files, src, tgt, sample, seed)


def _choose(found, files, src, tgt, sample, seed) -> ReferenceSet:
    held = sorted({(r.source_lang, r.target_lang) for r in found}
                  | {tuple(p) for f in files for p in f.get("pairs", ())})
    empty = sum(f.get("empty", 0) for f in files)
    if not found and empty:
        raise UserError(f"the references in {', '.join(f['path'] for f in files)} are all empty ({empty} "
                        "segments without a target text): nothing to compare with")
    if not found and not (tgt and held):
        raise UserError("no approved translations in " + ", ".join(f["path"] for f in files)
                        + ": only approved, final, signed-off or confirmed XLIFF targets, translated non-fuzzy "
                        "PO entries, TMX units and text pairs count as references")
    chosen = [r for r in found if _matches(src, r.source_lang) and _matches(tgt, r.target_lang)]
    listing = ", ".join(f"{s} -> {t}" for s, t in held)
    if not chosen:
        asked = (src or "/".join(sorted({s for s, _ in held})), tgt or "/".join(sorted({t for _, t in held})))
        raise UserError(f"no reference holds {asked[0]} -> {asked[1]}: the files hold {listing}")
    pairs = sorted({(r.source_lang, r.target_lang) for r in chosen})
    if len(pairs) > 1 and not (src and tgt):
        raise UserError(f"the references hold several language pairs ({listing}): choose one with "
                        "--source-lang and --target-lang")
    pair = (src or pairs[0][0], tgt or pairs[0][1])
    for entry in files:
        entry["used"] = sum(1 for r in chosen if r.origin.startswith(entry["path"] + ":"))
    available = len(chosen)
    if sample is not None and sample < len(chosen):
        # sorted indices: the sample keeps the files' order, and the same seed draws the same segments
        keep = sorted(random.Random(seed).sample(range(len(chosen)), sample))
        chosen = [chosen[k] for k in keep]
    return ReferenceSet(chosen, pair[0], pair[1], files, available)


def _expand(paths) -> list[Path]:
    """Files as given; a folder stands for its TMX, XLIFF and PO files (text pairs must be named)."""
    from bayling_cat.connectors import EXTENSIONS

    wanted = (EXTENSIONS | {".tmx"}) - {".docx", ".docm", ".dotx", ".pot"}
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in wanted
                           and not f.name.startswith("."))
            if not found:
                raise UserError(f"{p}: a folder without TMX, XLIFF or PO files")
            out.extend(found)
        else:
            out.append(p)
    return out


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _kind(path: Path, data: bytes) -> str:
    from bayling_cat.connectors.po import looks_like_po

    if path.suffix.lower() == ".txt":
        return "text"  # whatever its first line looks like (a segment may start with "<b>")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"<tmx" in data[:4096]:
        return "tmx"
    if head.startswith(b"<") or data.startswith((b"\xff\xfe", b"\xfe\xff", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "document"
    if data.strip() and looks_like_po(data):
        return "document"
    return "text"


def _document(path: Path, data: bytes, src, tgt) -> tuple[list[Reference], dict]:
    from bayling_cat.connectors import open_document
    from bayling_cat.document import align_target

    connector = open_document(path, data)
    if connector.format.startswith("docx"):
        raise UserError(f"{path}: a DOCX file holds no approved translations; evaluate on the bilingual "
                        "XLIFF or a TMX your CAT tool exports")
    file_src = connector.source_lang or connector.default_source_lang or src
    file_tgt = connector.target_lang or tgt
    if not file_src or not file_tgt:
        raise UserError(f"{path}: the file does not name its languages; pass --source-lang and --target-lang")
    file_src, file_tgt = _language(path, file_src, "source"), _language(path, file_tgt, "target")
    refs, empty = [], 0
    for seg in connector.segments():
        if not seg.source.strip():
            continue
        if connector.format != "po" and not confirmed(seg.skip):
            continue  # XLIFF: a target not yet approved is a draft, not a reference
        if not (seg.target or "").strip():
            empty += connector.format != "po"  # an untranslated PO entry is not an empty reference
            continue
        target = align_target(seg)
        if target is None or not target.strip():
            continue  # the reviewer's codes do not match the source's: no fair comparison for codes
        refs.append(Reference(f"{path}:{seg.key}", seg.source.strip(), target.strip(), file_src, file_tgt,
                              seg.codes, seg.hint))
    return refs, {"path": str(path), "format": connector.format, "source_lang": file_src, "target_lang": file_tgt,
                  "approved": len(refs), "empty": empty}


def _tmx(path: Path, data: bytes, src, tgt) -> tuple[list[Reference], dict]:
    # lxml through the connectors' safe parser rather than translate-toolkit's tmxfile: a TMX may hold many
    # languages per unit, and tmxfile only gives the first two
    from bayling_cat.connectors.xmlio import local_name, parse

    root = parse(path, data).getroot()
    if local_name(root) != "tmx":
        raise UserError(f"{path}: not a TMX file (the root element is <{local_name(root)}>)")
    header = next((el for el in root if local_name(el) == "header"), None)
    declared = header.get("srclang") if header is not None else None
    header_src = _language(path, declared, "source") if declared and declared != "*all*" else None
    file_src = src or header_src
    if file_src is None:
        raise UserError(f"{path}: the TMX names no source language (srclang); pass --source-lang")
    units, held, empty = [], set(), 0
    body = next((el for el in root if local_name(el) == "body"), None)
    for number, tu in enumerate(body if body is not None else [], 1):
        if local_name(tu) != "tu":
            continue
        variants = {}
        for tuv in tu:
            if local_name(tuv) != "tuv":
                continue
            lang = tuv.get("{http://www.w3.org/XML/1998/namespace}lang") or tuv.get("lang")
            seg = next((el for el in tuv if local_name(el) == "seg"), None)
            if lang and seg is not None:
                code = _language(path, lang, "unit")
                variants.setdefault(code, _tmx_text(seg).strip())
        held.update(variants)
        units.append((tu.get("tuid") or str(number), variants))
    sources = [c for c in held if _matches(file_src, c)]
    others = sorted(c for c in held if not _matches(file_src, c))
    if tgt is None and len({c.split("-")[0] for c in others}) > 1:
        raise UserError(f"{path}: the TMX holds {', '.join(others)} besides {file_src}: choose one with "
                        "--target-lang")
    refs = []
    for uid, variants in units:
        source = next((variants[c] for c in sorted(sources) if variants.get(c)), "")
        wanted = [code for code in others if _matches(tgt, code) and code in variants]
        if source and wanted and not any(variants[code] for code in wanted):
            empty += 1
        for code in wanted:
            if source and variants.get(code):
                refs.append(Reference(f"{path}:{uid}", source, variants[code], sources[0] if len(sources) == 1
                                      else file_src, code))
                break
    entry_tgt = tgt or (others[0] if others else None)
    return refs, {"path": str(path), "format": "tmx", "source_lang": file_src, "target_lang": entry_tgt,
                  "approved": len(refs), "pairs": [(file_src, code) for code in others], "empty": empty}


def _tmx_text(seg) -> str:
    from bayling_cat.connectors.xmlio import local_name

    parts = [seg.text or ""]
    for child in seg:
        if isinstance(child.tag, str) and local_name(child) not in TMX_CODES:
            parts.append(_tmx_text(child))  # <hi>, <sub>: text of the segment
        parts.append(child.tail or "")
    return "".join(parts)


def _text_pair(src_path: Path, src_data: bytes, ref_path: Path, ref_data: bytes, src, tgt):
    if not src or not tgt:
        raise UserError(f"{src_path}: plain-text references name no languages; pass --source-lang and "
                        "--target-lang")
    sources, targets = _lines(src_path, src_data), _lines(ref_path, ref_data)
    if len(sources) != len(targets):
        raise UserError(f"{src_path} has {len(sources)} lines and {ref_path} has {len(targets)}: a text pair "
                        "needs one segment a line in both, line for line")
    refs = [Reference(f"{ref_path}:{n}", s.strip(), t.strip(), src, tgt)
            for n, (s, t) in enumerate(zip(sources, targets), 1) if s.strip() and t.strip()]
    empty = sum(1 for s, t in zip(sources, targets) if s.strip() and not t.strip())
    return refs, {"path": str(ref_path), "source_file": str(src_path), "format": "text", "source_lang": src,
                  "target_lang": tgt, "approved": len(refs), "empty": empty}


def _lines(path: Path, data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UserError(f"{path}: line {line}: not UTF-8 text") from None
    lines = text.splitlines()
    return lines
