"""TMX in and out, streamed: a million units are read and written without holding the file in memory.

Reading uses lxml's ``iterparse`` (each ``<tu>`` is cleared once turned into units). A unit that is not
well-formed XML stops ``iterparse`` for good, so from that point the rest of the file is read unit by unit
(each ``<tu>...</tu>`` parsed on its own): every good unit is kept and the broken one is named by its line.
Nothing depends on the parser's wording or on where in its input buffer it notices the error (libxml2 2.14
reports a broken unit before handing out the events of the good units read in the same chunk): the units
iterparse handed out are counted, the scan takes over after them, and only a file in which the scan finds
neither a ``<header>`` nor a ``<tu>`` is "not a readable TMX file".

Inline markup maps to the pipeline's numbered placeholders and back: ``<bpt>``/``<ept>`` pairs and ``<hi>``
become ``<n>...</n>``, ``<ph>``, ``<it>`` and ``<ut>`` become ``<n/>``; the native code each one holds is kept
beside the unit (``codes``), so an export writes real TMX markup and never a bare ``<1/>``.
"""

from __future__ import annotations

import calendar
import codecs
import functools
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from bayling_cat.document import PLACEHOLDER

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAIRED = ("bpt", "ept", "hi")
STANDALONE = ("ph", "it", "ut")


@dataclass
class TmxUnit:
    line: int
    source: str = ""
    target: str = ""
    source_lang: str = ""
    target_lang: str = ""
    codes: dict = field(default_factory=dict)
    created: float | None = None
    error: str | None = None  # why this unit cannot be imported


class CountingReader:
    """A binary file that tells how far it has been read (the progress bar's position)."""

    def __init__(self, fh, progress):
        self.fh, self.progress = fh, progress

    def read(self, size=-1):
        data = self.fh.read(size)
        if self.progress:
            self.progress(len(data))
        return data


def read_tmx(path: Path, source_lang: str | None = None, target_lang: str | None = None,
             progress=None):
    """TmxUnits of the file, one per (tu, target language); units that cannot be imported carry ``error``."""
    header: dict = {}
    done = 0
    parser_args = dict(events=("end",), tag=("header", "tu"), resolve_entities=False, no_network=True,
                       huge_tree=True, load_dtd=False)
    try:
        with open(path, "rb") as fh:
            for _, elem in etree.iterparse(CountingReader(fh, progress), **parser_args):
                if not done and not header:
                    _refuse_entities(elem.getroottree())
                if elem.tag == "header":
                    header = dict(elem.attrib)
                    continue
                done += 1
                yield from _units(elem, elem.sourceline or 0, header, source_lang, target_lang)
                elem.clear(keep_tail=True)
                parent = elem.getparent()
                while parent is not None and elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if getattr(exc, "lineno", None) else 0
        yield from _scan(path, done, header, source_lang, target_lang,
                         not_tmx=f"not a readable TMX file (line {line}: {_reason(exc)})")


class _NotTmx(Exception):
    pass


def _refuse_entities(tree) -> None:
    """A TMX file that declares entities is refused as a whole, as every XML input is (the connectors'
    xmlio.parse): they are never expanded, and a unit must not lose the text one stood for."""
    dtd = tree.docinfo.internalDTD
    declared = [e.name for e in dtd.iterentities()] if dtd is not None else []
    if declared:
        raise _NotTmx(f"its DOCTYPE declares the entit{'y' if len(declared) == 1 else 'ies'} "
                      f"{', '.join(declared[:5])}; entity declarations are refused (they can expand without "
                      "bound or read other files); nothing was imported")


_TU_START = re.compile(r"<tu[\s>]")
_TU_END = re.compile(r"</tu\s*>")
_HEADER = re.compile(r"<header\b[^<>]*>", re.S)  # [^<>]: an unterminated one is not scanned to the end again


def _encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(1024)
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    m = re.match(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)", head)
    return m.group(1).decode("ascii") if m else "utf-8"


def _scan(path: Path, skip: int, header: dict, source_lang, target_lang, not_tmx: str = "not a TMX file"):
    """The units after a point where the file stops being well-formed, each ``<tu>`` parsed on its own
    (the first ``skip`` units were read already). A file without any ``<header>`` or ``<tu>`` raises
    _NotTmx(``not_tmx``) before anything is yielded."""
    if not skip and not header and not _looks_like_tmx(path):
        raise _NotTmx(not_tmx)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)
    seen, in_tu, buf, start_line = 0, False, [], 0
    with open(path, encoding=_encoding(path), errors="replace", newline="") as fh:
        for number, line in enumerate(fh, 1):
            pos = 0
            while True:
                if not in_tu:
                    if not header and _HEADER.search(line):
                        header = dict(re.findall(r'([\w:-]+)="([^"]*)"', _HEADER.search(line).group(0)))
                    m = _TU_START.search(line, pos)
                    if not m:
                        break
                    in_tu, buf, start_line, pos = True, [], number, m.start()
                    look = pos + 3
                else:
                    look = pos
                end = _TU_END.search(line, look)
                nxt = _TU_START.search(line, look)
                if nxt and (end is None or nxt.start() < end.start()):
                    seen += 1  # a unit that never ends; the next one starts here
                    if seen > skip:
                        yield TmxUnit(start_line, error="not well-formed XML (no </tu> before the next <tu>)")
                    in_tu, pos = False, nxt.start()
                    continue
                if end is None:
                    buf.append(line[pos:])
                    break
                buf.append(line[pos:end.end()])
                in_tu, pos = False, end.end()
                seen += 1
                if seen <= skip:
                    continue
                try:
                    tu = etree.fromstring("".join(buf), parser)
                except etree.XMLSyntaxError as exc:
                    yield TmxUnit(start_line + (exc.lineno or 1) - 1, error=f"not well-formed XML ({_reason(exc)})")
                    continue
                yield from _units(tu, start_line, header, source_lang, target_lang)
    if in_tu and seen >= skip:
        yield TmxUnit(start_line, error="not well-formed XML (the file ends inside the unit)")


def _looks_like_tmx(path: Path) -> bool:
    """Whether the file holds a ``<header>`` or a ``<tu>`` anywhere (read line by line, bounded memory)."""
    with open(path, encoding=_encoding(path), errors="replace", newline="") as fh:
        return any(_HEADER.search(line) or _TU_START.search(line) for line in fh)


def _reason(exc) -> str:
    """libxml2's message without its line numbers, which count from the unit, not the file."""
    return re.sub(r",? line \d+(, column \d+)?", "", str(getattr(exc, "msg", None) or exc)).strip()


def _lang(elem) -> str:
    return (elem.get(XML_LANG) or elem.get("lang") or "").strip()


def _same_lang(a: str, b: str) -> bool:
    a, b = a.lower().replace("_", "-"), b.lower().replace("_", "-")
    return a == b or a.split("-")[0] == b or b.split("-")[0] == a


@functools.lru_cache(maxsize=256)
def _normalize(code: str) -> str:
    from bayling_cat.languages import normalize

    return normalize(code)


def _units(tu, line: int, header: dict, source_lang, target_lang):
    from bayling_cat.errors import UserError

    tuvs = [c for c in tu if isinstance(c.tag, str) and c.tag == "tuv"]
    srclang = source_lang or tu.get("srclang") or header.get("srclang") or ""
    if not srclang or srclang == "*all*":
        yield TmxUnit(line, error="no source language (srclang); pass --source-lang")
        return
    source = next((t for t in tuvs if _same_lang(_lang(t), srclang)), None)
    if source is None:
        yield TmxUnit(line, error=f"no <tuv> in the source language {srclang}")
        return
    targets = [t for t in tuvs if t is not source and (not target_lang or _same_lang(_lang(t), target_lang))]
    if not targets:
        yield TmxUnit(line, error=f"no <tuv> in {target_lang or 'a target language'}")
        return
    try:
        src_text, codes = seg_text(source, {})
    except ValueError as exc:
        yield TmxUnit(line, error=str(exc))
        return
    if not src_text.strip():
        yield TmxUnit(line, error="an empty source segment")
        return
    created = _date(tu.get("changedate") or tu.get("creationdate"))
    for target in targets:
        lang = target_lang or _lang(target)
        try:
            tgt_text, _ = seg_text(target, codes)
            src_code, tgt_code = _normalize(source_lang or _lang(source) or srclang), _normalize(lang)
        except (ValueError, UserError) as exc:
            yield TmxUnit(target.sourceline or line, error=str(exc).split(": ", 1)[-1])
            continue
        if not tgt_text.strip():
            continue  # an untranslated language of a multilingual unit
        yield TmxUnit(line, src_text.strip(), tgt_text.strip(), src_code, tgt_code,
                      {str(k): v for k, v in codes.items()}, created)


def _date(value: str | None) -> float | None:
    """A TMX date (YYYYMMDDThhmmssZ) as a timestamp; sliced by hand: strptime would cost seconds per million."""
    if not value or len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    try:
        return float(calendar.timegm((int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                                      int(value[11:13]), int(value[13:15]), 0, 0, 0)))
    except ValueError:
        return None


def seg_text(tuv, codes: dict) -> tuple[str, dict]:
    """The text of a tuv's <seg> with inline markup as numbered placeholders. ``codes`` (from the source)
    numbers the target's codes like the source's; codes only the target has get new numbers."""
    seg = next((c for c in tuv if isinstance(c.tag, str) and c.tag == "seg"), None)
    if seg is None:
        raise ValueError(f"a <tuv xml:lang=\"{_lang(tuv)}\"> without <seg>")
    if len(seg) == 0:  # plain text, most units of most memories
        text = seg.text or ""
        if "<" not in text:
            return text, codes
    codes = dict(codes)
    by_key = {(v.get("tag"), v.get("i") or v.get("x")): k for k, v in codes.items()}
    used: set = set()
    open_pairs: dict = {}

    def literal(text: str) -> str:
        """Text that reads like a placeholder (``<1>``) is protected as a code of its own, as the XLIFF
        reader does, so that it comes back as text."""
        def protect(m):
            k = next((n for n, v in codes.items() if v.get("literal") == m.group(0) and n not in used), None)
            if k is None:
                k = max([0, *codes, *used]) + 1
                codes[k] = {"literal": m.group(0)}
            used.add(k)
            return f"<{k}/>"

        return PLACEHOLDER.sub(protect, text) if text and "<" in text else (text or "")

    parts: list[str] = [literal(seg.text)]

    def number(tag, key, native):
        k = by_key.get((tag, key)) if key else None
        if k is None or k in used:
            k = max([0, *codes, *used]) + 1
            codes[k] = {"tag": tag, "native": native, **({"i": key} if key else {})}
        used.add(k)
        return k

    def walk(parent):
        for child in parent:
            if isinstance(child, etree._Entity):  # never dropped: the unit would lose the text it stands for
                raise ValueError(f"a reference to the entity {child.text} (entities are refused)")
            if not isinstance(child.tag, str):
                parts.append(literal(child.tail))
                continue
            tag = child.tag
            native = "".join(child.itertext()) if tag != "hi" else ""
            if tag == "bpt":
                k = number("bpt", child.get("i"), native)
                open_pairs[child.get("i")] = k
                parts.append(f"<{k}>")
            elif tag == "ept":
                k = open_pairs.pop(child.get("i"), None)
                if k is None:
                    k = number("ept", child.get("i"), native)
                    parts.append(f"<{k}/>")
                else:
                    codes[k]["close"] = native
                    parts.append(f"</{k}>")
            elif tag == "hi":
                k = number("hi", child.get("x"), "")
                codes[k].update({a: child.get(a) for a in ("type", "x") if child.get(a)})
                parts.append(f"<{k}>")
                parts.append(literal(child.text))
                walk(child)
                parts.append(f"</{k}>")
            elif tag in STANDALONE:
                k = number(tag, child.get("x") or child.get("i"), native)
                if child.get("pos"):
                    codes[k]["pos"] = child.get("pos")
                parts.append(f"<{k}/>")
            else:
                raise ValueError(f"unknown inline element <{tag}> in <seg>")
            parts.append(literal(child.tail))

    walk(seg)
    return "".join(parts), codes


# -- codes as the pipeline has them ------------------------------------------------------------------------

def stored_codes(codes: dict) -> dict | None:
    """A segment's inline codes (document.Code) as the memory keeps them: the literal text a placeholder
    protects (printf ``%s``, ``{name}``), or the original markup of the element."""
    out = {}
    for n, code in codes.items():
        if code.literal is not None:
            out[str(n)] = {"literal": code.literal}
        elif code.element is not None and isinstance(code.element.tag, str):
            el = code.element
            name = etree.QName(el).localname
            attrs = "".join(f' {etree.QName(k).localname}="{_attr(v)}"' for k, v in el.attrib.items())
            if code.paired:
                out[str(n)] = {"tag": "bpt", "native": f"<{name}{attrs}>", "close": f"</{name}>"}
            else:
                copy = etree.fromstring(etree.tostring(el, with_tail=False))
                out[str(n)] = {"tag": "ph", "native": etree.tostring(copy, encoding="unicode")[:2000]}
    return out or None


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


# -- writing ----------------------------------------------------------------------------------------------

def fill_seg(seg, text: str, codes: dict) -> None:
    """Write ``text`` into ``seg`` with each placeholder as TMX markup: literals as their text, paired codes as
    <bpt>/<ept> (a half without its partner as <it>), standalone ones as <ph>."""
    closers = {int(m.group(2)) for m in PLACEHOLDER.finditer(text) if m.group(1)}
    openers = {int(m.group(2)) for m in PLACEHOLDER.finditer(text) if not m.group(1) and not m.group(3)}
    last = None
    pos = 0

    def add_text(value: str):
        if not value:
            return
        if last is None:
            seg.text = (seg.text or "") + value
        else:
            last.tail = (last.tail or "") + value

    for m in PLACEHOLDER.finditer(text):
        closing, n, standalone = bool(m.group(1)), int(m.group(2)), bool(m.group(3))
        code = codes.get(str(n)) or {}
        add_text(text[pos:m.start()])
        pos = m.end()
        if "literal" in code:
            add_text(code["literal"])
            continue
        if standalone:
            el = etree.SubElement(seg, code.get("tag") if code.get("tag") in ("ph", "ut") else "ph", x=str(n))
            el.text = code.get("native") or None
            if code.get("tag") == "it":
                el.tag = "it"
                el.set("pos", code.get("pos") or "begin")
        elif not closing and n in closers:
            el = etree.SubElement(seg, "bpt", i=str(n), x=str(n))
            el.text = code.get("native") or None
        elif closing and n in openers:
            el = etree.SubElement(seg, "ept", i=str(n))
            el.text = code.get("close") or None
        else:  # half of a pair whose other half is in another segment
            el = etree.SubElement(seg, "it", pos="end" if closing else "begin", x=str(n))
            el.text = (code.get("close") if closing else code.get("native")) or None
        last = el
    add_text(text[pos:])


def write_tmx(out: Path, units, progress=None) -> int:
    """Stream ``units`` (dicts with the memory's columns) into a TMX 1.4 file, written atomically."""
    from bayling_cat import __version__
    from bayling_cat.errors import UserError

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    count = 0
    try:
        with etree.xmlfile(tmp, encoding="UTF-8") as xf:
            xf.write_declaration()
            with xf.element("tmx", version="1.4"):
                xf.write("\n")
                xf.write(etree.Element("header", creationtool="bayling-cat", creationtoolversion=__version__,
                                       segtype="sentence", adminlang="en", srclang="*all*",
                                       datatype="plaintext", **{"o-tmf": "bayling-cat memory"}))
                xf.write("\n")
                with xf.element("body"):
                    xf.write("\n")
                    for unit in units:
                        xf.write(_tu(unit))
                        xf.write("\n")
                        count += 1
                        if progress:
                            progress(1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except (OSError, etree.SerialisationError) as exc:
        # lxml's xmlfile reports a failed write (a full disk) as a SerialisationError, not an OSError
        os.unlink(tmp)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            f"the write failed: {exc or type(exc).__name__}; is the disk full?"
        raise UserError(f"{out}: cannot write ({reason}); nothing was written") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return count


def _tu(unit: dict):
    created = datetime.fromtimestamp(unit["created"], timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    tu = etree.Element("tu", srclang=unit["source_lang"], creationdate=created)
    if unit["origin"] != "human":
        tu.set("creationid", "bayling-cat")
        prop = etree.SubElement(tu, "prop", type="x-bayling-cat-origin")
        prop.text = "machine translation" + (f" ({unit['model']})" if unit.get("model") else "")
    codes = json.loads(unit["codes"]) if unit.get("codes") else {}
    for lang, text in ((unit["source_lang"], unit["source"]), (unit["target_lang"], unit["target"])):
        tuv = etree.SubElement(tu, "tuv", {XML_LANG: lang})
        fill_seg(etree.SubElement(tuv, "seg"), _xml_safe(text), codes)
    return tu


def _xml_safe(text: str) -> str:
    """Characters XML 1.0 forbids cannot be written; the memory may hold them from older releases."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "", text)
