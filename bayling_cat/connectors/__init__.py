"""Connectors: one per file format, all handing the same Segments to the pipeline.

``open_document`` detects the format from the content, not from the extension.
"""

from __future__ import annotations

from pathlib import Path

from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, local_name, looks_like_xml, namespace

XLIFF1_NAMESPACES = {"", "urn:oasis:names:tc:xliff:document:1.2", "urn:oasis:names:tc:xliff:document:1.1",
                     "urn:oasis:names:tc:xliff:document:1.0"}
XLIFF2_PREFIX = "urn:oasis:names:tc:xliff:document:2."
EXTENSIONS = {".xlf", ".xliff", ".sdlxliff", ".mqxliff", ".po", ".pot", ".docx", ".docm", ".dotx", ".arb",
              ".properties", ".strings",
              ".stringsdict", ".xcstrings", ".srt", ".vtt", ".resx", ".html", ".htm", ".md",
              ".pptx", ".pptm", ".potx", ".xlsx", ".xlsm", ".xltx", ".odt", ".ott"}
# read when named on the command line, never picked up from a folder (a project folder holds package.json,
# layout XML and CI YAML that are no translation files): .json, .yml/.yaml, .xml (Android), .ts (Qt Linguist, and
# TypeScript's extension)


def open_document(path: str | Path, data: bytes | None = None, accelerator: str | None = None) -> Connector:
    """Read ``path`` with the connector its content calls for; a DocumentError says why none fits."""
    from bayling_cat.connectors.xliff1 import MQ_NS, SDL_NS, Mqxliff, Sdlxliff, Xliff1
    from bayling_cat.connectors.xliff2 import Xliff2

    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DocumentError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise DocumentError(f"{path}: a folder, not a file") from None
        except OSError as exc:
            raise DocumentError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise DocumentError(f"{path}: empty file")
    if path.suffix.lower() == ".strings":  # UTF-16 with or without a byte order mark, or UTF-8
        from bayling_cat.connectors.apple import AppleStrings

        return AppleStrings(path, data)
    from bayling_cat.connectors.html import looks_like_html

    if path.suffix.lower() in (".md", ".markdown", ".mdown", ".mkd"):  # may begin with HTML
        from bayling_cat.connectors.markdown import Markdown

        return Markdown(path, data)
    if looks_like_html(path, data):
        from bayling_cat.connectors.html import Html

        return Html(path, data)
    if data.startswith(b"PK\x03\x04"):
        from bayling_cat.connectors.ooxml import open_package

        return open_package(path, data)  # Word, PowerPoint, Excel or OpenDocument
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocumentError(f"{path}: an OLE compound file (a password-protected or old binary Office "
                            "document), not a supported format")
    if not looks_like_xml(data):
        from bayling_cat.connectors.jsonres import JsonResource, looks_like_json
        from bayling_cat.connectors.po import Po, looks_like_po

        if path.suffix.lower() == ".xcstrings":
            from bayling_cat.connectors.apple import XcStrings

            return XcStrings(path, data)
        if looks_like_json(data) or path.suffix.lower() in (".json", ".arb"):
            return JsonResource(path, data)
        if path.suffix.lower() in (".srt", ".vtt") or data.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
            from bayling_cat.connectors.subtitles import Subtitles

            return Subtitles(path, data)
        if path.suffix.lower() in (".yml", ".yaml"):
            from bayling_cat.connectors.yamlres import YamlResource

            return YamlResource(path, data)
        if path.suffix.lower() == ".properties":
            from bayling_cat.connectors.properties import Properties

            return Properties(path, data)

        if looks_like_po(data):
            return Po(path, data, accelerator=accelerator)
        raise DocumentError(f"{path}: not an XML file (and not a supported format)")
    xml = XmlDocument(path, data)
    root = xml.root
    ns = namespace(root)
    if local_name(root) == "TS":
        from bayling_cat.connectors.qtts import QtTs

        return QtTs(path, data, xml)
    if local_name(root) == "root" and path.suffix.lower() == ".resx":
        from bayling_cat.connectors.resx import Resx

        return Resx(path, data, xml)
    if local_name(root) == "plist":
        from bayling_cat.connectors.apple import StringsDict

        return StringsDict(path, data, xml)
    if local_name(root) == "resources":
        from bayling_cat.connectors.android import AndroidStrings

        return AndroidStrings(path, data, xml)
    if local_name(root) != "xliff":
        raise DocumentError(f"{path}: not an XLIFF file (the root element is <{local_name(root)}>)")
    version = root.get("version", "")
    if ns.startswith(XLIFF2_PREFIX) or version.startswith("2."):
        if version not in ("2.0", "2.1", "2.2") or not ns.startswith(XLIFF2_PREFIX):
            raise DocumentError(f"{path}: unknown XLIFF version {version!r} (namespace {ns or 'none'})")
        return Xliff2(path, data, xml)
    if ns not in XLIFF1_NAMESPACES or (version and version not in ("1.0", "1.1", "1.2")):
        raise DocumentError(f"{path}: unknown XLIFF version {version!r} (namespace {ns or 'none'})")
    namespaces = set(root.nsmap.values()) | {namespace(el) for el in root.iter() if isinstance(el.tag, str)}
    if SDL_NS in namespaces:
        return Sdlxliff(path, data, xml)
    if MQ_NS in namespaces:
        return Mqxliff(path, data, xml)
    return Xliff1(path, data, xml)


__all__ = ["Connector", "DocumentError", "open_document", "EXTENSIONS"]
