"""Android string resources (``res/values/strings.xml``): ``<string>``, ``<string-array>`` items and
``<plurals>`` quantities, with Android's own escapes, inline markup and CDATA.

lxml on the original tree, parsed safely (no entities, no DTD) by ``xmlio``; translate-toolkit's ``aresource``
re-serialises every string of the file and unescapes/re-escapes text its own way, so a file read and written
without changes does not come back identical (docs/formats.md has the figures).

- ``\\n``, ``\\t``, ``\\uXXXX``, ``\\@``, ``\\?``, ``\\\\``, printf (``%1$s``, ``%d``), ``<xliff:g>`` (content that must not
  be translated) and the quotes of a ``"quoted"`` value are codes; ``\\'`` and ``\\"`` reach the model as plain
  quotes and are escaped again in the translation (so an apostrophe never breaks aapt);
- ``<b>``, ``<i>``, ``<u>``, ``<a>``, ``<font>``, ``<annotation>``, ``<span>`` are paired codes;
- ``translatable="false"`` strings are left out of the translation (Android lint's ``Untranslatable``);
- ``translation_description``/``description`` attributes and the comment just before a string are context;
- plurals get exactly the target language's CLDR quantities (``babel``).
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

from lxml import etree

from bayling_cat.connectors import icu
from bayling_cat.connectors.resource import Resource, Unit, _hint, pattern
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, local_name
from bayling_cat.document import PLACEHOLDER, Segment, clean_text, flatten, rebuild

PAIRED = {"b", "i", "u", "a", "font", "annotation", "span", "em", "strong", "big", "small", "sup", "sub", "strike"}
ESCAPES = pattern(r"\\u[0-9A-Fa-f]{4}", r"\\[nt@?\\]", r'(?<!\\)"')  # a raw " quotes, it is never shown
TOOLS = "http://schemas.android.com/tools"


def classify(element) -> str:
    return "paired" if local_name(element) in PAIRED else "standalone"


def looks_like_android(root) -> bool:
    return local_name(root) == "resources" and any(
        local_name(c) in ("string", "plurals", "string-array") for c in root)


def _protect_between(text: str, codes: dict) -> str:
    """``text`` (flattened, placeholders already in it) with Android's escapes and printf protected as codes
    and ``\\'`` ``\\"`` unescaped, between the placeholders only."""
    from bayling_cat.document import protect

    out, pos = [], 0
    for m in PLACEHOLDER.finditer(text):
        out.append(protect(text[pos:m.start()], ESCAPES, codes).replace("\\'", "'").replace('\\"', '"'))
        out.append(m.group(0))
        pos = m.end()
    out.append(protect(text[pos:], ESCAPES, codes).replace("\\'", "'").replace('\\"', '"'))
    return "".join(out)


def escape(text: str) -> str:
    """Plain translated text as Android string text: quotes and apostrophes escaped, a leading @ or ? too."""
    text = text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    return "\\" + text if text.startswith(("@", "?")) else text


class AndroidStrings(Resource):
    format = "android"
    icu_messages = False

    def __init__(self, path: Path, data: bytes, xml: XmlDocument | None = None):
        super().__init__(path, data)
        self.xml = xml or XmlDocument(path, data)
        if not looks_like_android(self.xml.root):
            raise DocumentError(f"{path}: not Android string resources (<resources> without <string>)")
        self.source_lang = self._source_language()
        self._plurals: dict[int, dict] = {}

    def _source_language(self) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        folder = self.path.parent.name
        if folder.startswith("values-"):
            qualifier = folder[len("values-"):].replace("-r", "-").replace("b+", "").replace("+", "-")
            try:
                return languages.normalize(qualifier)
            except UserError:
                return None
        return None

    # -- units ---------------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        out: list[Unit] = []
        for el in self.xml.root:
            if not isinstance(el.tag, str):
                continue
            name, kind = el.get("name", "?"), local_name(el)
            skip = "translatable=false" if el.get("translatable") == "false" else None
            note = self._note(el)
            if kind == "string":
                out.append(Unit(name, "", ref=el, note=note, skip=skip))
            elif kind == "string-array":
                items = [i for i in el if local_name(i) == "item"]
                out += [Unit(f"{name}[{n}]", "", ref=i, note=self._note(i) or note, skip=skip)
                        for n, i in enumerate(items)]
            elif kind == "plurals":
                out += self._plural_units(el, name, note, skip)
        return out

    def _note(self, el) -> str | None:
        for attr in ("translation_description", "description", "comment"):
            if el.get(attr):
                return el.get(attr)
        prev = el.getprevious()
        if isinstance(prev, etree._Comment) and not (prev.tail or "").count("\n") > 1 and prev.text.strip():
            return prev.text.strip()
        return None

    def _plural_units(self, el, name: str, note, skip) -> list[Unit]:
        items = {i.get("quantity"): i for i in el if local_name(i) == "item" and i.get("quantity")}
        if "other" not in items:
            return [Unit(f"{name}[{q}]", "", ref=i, note=note, skip="plurals without quantity 'other'")
                    for q, i in items.items()]
        src = self.source_lang or "en"
        tgt = self.target_lang or src
        group = {"element": el, "items": items}
        self._plurals[id(el)] = group

        def codes_of(cat):
            return sorted(ESCAPES.findall("".join(items[cat].itertext())))

        out = []
        for cat in icu.categories(tgt):
            origin = icu.source_category(list(items), cat, src, tgt, False, codes_of)
            counts = ", ".join(map(str, icu.examples(tgt, cat))) or "fractions"
            out.append(Unit(f"{name}[{cat}]", "", ref=items[origin], skip=skip,
                            note=self._note(items[origin]) or note,
                            instruction=f"This is the plural form '{cat}', used for counts such as {counts}.",
                            plural={"group": group, "category": cat}))
        return out

    def segments(self) -> list[Segment]:
        if self._units is None:
            self._units = self.units()
        out = []
        for unit in self._units:
            text, codes = flatten(unit.ref, classify)
            quoted = len(text) > 1 and text.startswith('"') and text.endswith('"') and not text.endswith('\\"')
            source = _protect_between(text[1:-1] if quoted else text, codes)
            out.append(Segment(key=unit.key, source=source, codes=codes, skip=unit.skip,
                               hint=_hint(unit.instruction, unit.note), handle=(unit, quoted, None),
                               notes=[unit.note] if unit.note else []))
        return out

    # -- writing -------------------------------------------------------------------------------------

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        unit = segment.handle[0]
        pieces, pos = [], 0
        for m in PLACEHOLDER.finditer(text):
            pieces.append(escape(clean_text(text[pos:m.start()])))
            pieces.append(m.group(0))
            pos = m.end()
        pieces.append(escape(clean_text(text[pos:])))
        value = "".join(pieces)
        if segment.handle[1]:  # a "quoted" value (its spaces kept): quoted again around the translation
            value = '"' + value.removeprefix("\\") + '"'
        self.written[id(unit)] = (value, segment.codes)

    def serialize(self) -> bytes:
        if not self.written:
            return self.xml.serialize()
        for unit in self._units or []:
            if id(unit) not in self.written:
                continue
            text, codes = self.written[id(unit)]
            group = unit.plural.get("group")
            target = unit.ref
            if group is not None:
                target = group["items"].get(unit.plural["category"])
                if target is None:
                    target = self._new_item(group, unit.plural["category"], unit.ref)
            cdata = b"<![CDATA[" in etree.tostring(unit.ref)
            rebuild(target, text, codes)
            if cdata and len(target) == 0 and target.text:
                target.text = etree.CDATA(target.text)
        for group in self._plurals.values():
            self._drop_extra_quantities(group)
        for el in [e for e in self.xml.root if isinstance(e.tag, str) and e.get("translatable") == "false"]:
            _remove(el)  # lint's Untranslatable: such strings live in values/ only
        if self.target_lang and self.xml.root.get(f"{{{TOOLS}}}locale"):
            self.xml.root.set(f"{{{TOOLS}}}locale", self.target_lang)
        self.xml.touch_structure()
        return self.xml.serialize()

    def _new_item(self, group: dict, category: str, model) -> etree._Element:
        """A new ``<item quantity=…>`` before the group's ``other`` (CLDR order), indented like it."""
        element = group["element"]
        other = group["items"]["other"]
        new = deepcopy(model)
        new.set("quantity", category)
        prev = other.getprevious()
        new.tail = prev.tail if prev is not None else element.text
        other.addprevious(new)
        group["items"][category] = new
        return new

    def _drop_extra_quantities(self, group: dict) -> None:
        wanted = {u.plural["category"] for u in self._units or [] if u.plural.get("group") is group}
        if not any(id(u) in self.written for u in self._units or [] if u.plural.get("group") is group):
            return
        for quantity, item in list(group["items"].items()):
            if quantity not in wanted:
                _remove(item)
                del group["items"][quantity]

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """res/values/strings.xml -> res/values-de/strings.xml (pt-BR: values-pt-rBR; zh-Hans: values-b+zh+Hans)."""
        folder = path.parent.name
        if folder != "values" and not folder.startswith("values-"):
            return None
        parts = target_lang.split("-")
        if len(parts) == 1:
            qualifier = parts[0]
        elif len(parts) == 2 and len(parts[1]) == 2:
            qualifier = f"{parts[0]}-r{parts[1].upper()}"
        else:
            qualifier = "b+" + "+".join(parts)
        return path.parent.parent / f"values-{qualifier}" / path.name


def _remove(el) -> None:
    """Remove an element with the whitespace before it, so no blank line is left where it was."""
    prev = el.getprevious()
    parent = el.getparent()
    if prev is not None:
        prev.tail = el.tail if (prev.tail or "").strip() == "" else (prev.tail or "") + (el.tail or "")
    else:
        parent.text = el.tail if (parent.text or "").strip() == "" else (parent.text or "") + (el.tail or "")
    parent.remove(el)
