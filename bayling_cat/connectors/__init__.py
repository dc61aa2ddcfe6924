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


# formats recognised by name before anything else (their content may begin like HTML or like XML)
FIRST_BY_NAME = {".strings": "apple:AppleStrings", ".md": "markdown:Markdown", ".markdown": "markdown:Markdown",
                 ".mdown": "markdown:Markdown", ".mkd": "markdown:Markdown"}
# text formats (not XML) by name
TEXT_BY_NAME = {".xcstrings": "apple:XcStrings", ".json": "jsonres:JsonResource", ".arb": "jsonres:JsonResource",
                ".srt": "subtitles:Subtitles", ".vtt": "subtitles:Subtitles", ".yml": "yamlres:YamlResource",
                ".yaml": "yamlres:YamlResource", ".properties": "properties:Properties"}
# XML formats by root element (XLIFF is handled below)
XML_BY_ROOT = {"TS": "qtts:QtTs", "plist": "apple:StringsDict", "resources": "android:AndroidStrings"}


def _connector(spec: str):
    import importlib

    module, name = spec.split(":")
    return getattr(importlib.import_module(f"bayling_cat.connectors.{module}"), name)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DocumentError(f"{path}: a folder, not a file") from None
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read ({exc.strerror or exc})") from None


def open_document(path: str | Path, data: bytes | None = None, accelerator: str | None = None) -> Connector:
    """Read ``path`` with the connector its content calls for; a DocumentError says why none fits."""
    from bayling_cat.connectors.html import looks_like_html

    path = Path(path)
    data = _read(path) if data is None else data
    if not data.strip():
        raise DocumentError(f"{path}: empty file")
    suffix = path.suffix.lower()
    if suffix in FIRST_BY_NAME:
        return _connector(FIRST_BY_NAME[suffix])(path, data)
    if looks_like_html(path, data):
        return _connector("html:Html")(path, data)
    if data.startswith(b"PK\x03\x04"):
        return _open_package(path, data)  # Word, PowerPoint, Excel or OpenDocument
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocumentError(f"{path}: an OLE compound file (a password-protected or old binary Office "
                            "document), not a supported format")
    if not looks_like_xml(data):
        return _text_document(path, data, accelerator)
    return _xml_document(path, data)


def _text_document(path: Path, data: bytes, accelerator: str | None) -> Connector:
    from bayling_cat.connectors.jsonres import looks_like_json
    from bayling_cat.connectors.po import Po, looks_like_po

    suffix = path.suffix.lower()
    if suffix in TEXT_BY_NAME:
        return _connector(TEXT_BY_NAME[suffix])(path, data)
    if looks_like_json(data):
        return _connector("jsonres:JsonResource")(path, data)
    if data.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
        return _connector("subtitles:Subtitles")(path, data)
    if looks_like_po(data):
        return Po(path, data, accelerator=accelerator)
    raise DocumentError(f"{path}: not an XML file (and not a supported format)")


def _xml_document(path: Path, data: bytes) -> Connector:
    from bayling_cat.connectors.xliff1 import MQ_NS, SDL_NS, Mqxliff, Sdlxliff, Xliff1
    from bayling_cat.connectors.xliff2 import Xliff2

    xml = XmlDocument(path, data)
    root = xml.root
    ns = namespace(root)
    if local_name(root) in XML_BY_ROOT:
        return _connector(XML_BY_ROOT[local_name(root)])(path, data, xml)
    if local_name(root) == "root" and path.suffix.lower() == ".resx":
        return _connector("resx:Resx")(path, data, xml)
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


def _open_package(path: Path, data: bytes):
    """The connector an OOXML or ODF package calls for, from its entry names (the connector checks the rest)."""
    import io
    import zipfile

    from bayling_cat.connectors.docx import MAX_ENTRIES, Docx, declared_entries
    from bayling_cat.connectors.ooxml import Pptx, Xlsx

    entries = declared_entries(data)
    if entries is None or entries <= MAX_ENTRIES:
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            names = set()
        if "ppt/presentation.xml" in names:
            return Pptx(path, data)
        if "xl/workbook.xml" in names:
            return Xlsx(path, data)
        if "mimetype" in names and "content.xml" in names:
            from bayling_cat.connectors.odf import Odt

            return Odt(path, data)
    return Docx(path, data)


__all__ = ["Connector", "DocumentError", "open_document", "EXTENSIONS"]
