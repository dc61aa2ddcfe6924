""".NET resources (``Resources.resx`` -> ``Resources.de.resx``): each string ``<data>``'s ``<value>``.

lxml on the file's own tree (safe parsing by ``xmlio``); each translated ``<data>`` element is re-serialised in
place and every other byte stays (translate-toolkit's ``RESXFile`` re-serialises the whole file:
docs/formats.md has the figures). Resources with a ``type`` or ``mimetype`` (images, sizes, fonts), WinForms
designer entries (``>>button1.Name``) and ``resheader``/``metadata``/``assembly`` are never touched;
``<comment>`` is context for the model. ``{0}``, ``{0:N2}``, ``{{`` are codes.
"""

from __future__ import annotations

from pathlib import Path

from bayling_cat.connectors.resource import Resource, Unit, pattern
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, local_name
from bayling_cat.document import xml_safe

PLACEHOLDERS = pattern(r"\{\{|\}\}", r"\{\d+(?:,-?\d+)?(?::[^{}]*)?\}")


class Resx(Resource):
    format = "resx"
    placeholders = PLACEHOLDERS
    icu_messages = False

    def __init__(self, path: Path, data: bytes, xml: XmlDocument | None = None):
        super().__init__(path, data)
        self.xml = xml or XmlDocument(path, data)
        if local_name(self.xml.root) != "root":
            raise DocumentError(f"{path}: not a .resx file (the root element is <{local_name(self.xml.root)}>)")
        self.source_lang = self.language_in_name()

    def units(self) -> list[Unit]:
        out = []
        for data in self.xml.root:
            if not isinstance(data.tag, str) or local_name(data) != "data":
                continue
            name = data.get("name", "?")
            value = data.find("value")
            if value is None or data.get("type") or data.get("mimetype") or name.startswith(">>"):
                continue
            if len(value):
                continue  # markup inside a value: not a string resource
            comment = data.find("comment")
            note = comment.text.strip() if comment is not None and comment.text and comment.text.strip() else None
            out.append(Unit(name, value.text or "", ref=data, note=note))
        return out

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """Resources.resx -> Resources.de.resx; Strings.en.resx -> Strings.de.resx (.NET satellite naming)."""
        parts = path.name.split(".")
        if self.source_lang and len(parts) > 2:
            parts[-2] = target_lang
            return path.with_name(".".join(parts))
        return path.with_name(f"{path.stem}.{target_lang}{path.suffix}")

    def serialize(self) -> bytes:
        for unit in self._units or []:
            value = self.written.get(id(unit))
            if value is not None:
                unit.ref.find("value").text = xml_safe(value)
                self.xml.touch(unit.ref)
        return self.xml.serialize()
