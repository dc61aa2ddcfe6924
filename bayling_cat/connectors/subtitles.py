"""Subtitles: SubRip (``.srt``) and WebVTT (``.vtt``). Each cue's text is a segment; cue numbers, identifiers,
timings and cue settings are never sent to the model and never change; line breaks inside a cue, ``<i>``,
``<b>``, ``<u>``, ``<font …>``, WebVTT's ``<v Speaker>``, ``<c.class>``, ``<00:00:01.000>`` karaoke timestamps,
entities and ASS override tags (``{\\an8}``) are codes the model copies.

translate-toolkit's ``subtitles`` storage goes through aeidon, which re-times and re-writes the whole file;
the blocks are read here and only each cue's text is replaced (CRLF, the byte order mark, NOTE and STYLE
blocks, blank lines stay as they were).
"""

from __future__ import annotations

import re
from pathlib import Path

from bayling_cat.connectors.resource import Resource, Unit, pattern
from bayling_cat.connectors.xmlio import DocumentError

_TIME = r"(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3}"
TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s.*)?$")
PLACEHOLDERS = pattern(r"\{\\[^{}]*\}", r"<\d{1,2}:\d{2}(?::\d{2})?\.\d{3}>", r"</?[a-zA-Z][^<>]*>")


class Subtitles(Resource):
    icu_messages = False
    placeholders = PLACEHOLDERS

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self.bom = data.startswith(b"\xef\xbb\xbf")
        body = data[3:] if self.bom else data
        try:
            self.text, self.encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            self.text, self.encoding = body.decode("cp1252", "replace"), "cp1252"  # the usual 8-bit .srt
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        self.vtt = self.text.lstrip().startswith("WEBVTT")
        self.format = "webvtt" if self.vtt else "srt"
        if path.suffix.lower() == ".vtt" and not self.vtt:
            raise DocumentError(f"{path}: line 1: a WebVTT file must begin with WEBVTT")
        self.cues = self._parse()
        if not self.cues:
            raise DocumentError(f"{path}: no subtitle cue (a timing line such as 00:00:01,000 --> 00:00:02,000)")
        self.source_lang = self.language_in_name()

    def _parse(self) -> list[dict]:
        """Blocks separated by blank lines; in each, the timing line and the text after it."""
        cues, note = [], None
        for m in re.finditer(r"(?:[^\r\n]+(?:\r?\n|$))+", self.text):
            lines = m.group(0).splitlines(keepends=True)
            first = lines[0].strip()
            line_no = self.text.count("\n", 0, m.start()) + 1
            if self.vtt and first.startswith("NOTE"):  # a comment: context for the cue after it
                note = " ".join(x.strip() for x in [first[4:]] + lines[1:] if x.strip()) or None
                continue
            if self.vtt and (first.startswith(("WEBVTT", "STYLE", "REGION"))):
                continue
            timing = next((i for i, line in enumerate(lines[:2]) if TIMING.match(line.rstrip("\r\n"))), None)
            if timing is None:
                raise DocumentError(f"{self.path}: line {line_no}: a cue without a timing line "
                                    f"(expected 00:00:01{'.' if self.vtt else ','}000 --> 00:00:02"
                                    f"{'.' if self.vtt else ','}000, found {first[:40]!r})")
            if not self.vtt and timing == 1 and not first.isdigit():
                raise DocumentError(f"{self.path}: line {line_no}: a cue number must be a number, found {first[:40]!r}")
            start = m.start() + sum(len(x) for x in lines[:timing + 1])
            text = "".join(lines[timing + 1:])
            end = start + len(text.rstrip("\r\n"))
            label = first if timing == 1 else str(len(cues) + 1)
            cues.append({"key": label, "time": lines[timing].strip(), "span": (start, end), "note": note,
                         "value": self.text[start:end].replace("\r\n", "\n")})
            note = None
        return cues

    def units(self) -> list[Unit]:
        return [Unit(f"{c['key']} {c['time'].split(' ')[0]}", c["value"], ref=c, note=c["note"]) for c in self.cues]

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """movie.srt -> movie.de.srt; movie.en.vtt -> movie.de.vtt (what players pick up beside the video)."""
        parts = path.name.split(".")
        if self.source_lang and len(parts) > 2:
            parts[-2] = target_lang
            return path.with_name(".".join(parts))
        return path.with_name(f"{path.stem}.{target_lang}{path.suffix}")

    def serialize(self) -> bytes:
        if not self.written:
            return self.data
        text = self.text
        for unit in sorted(self._units or [], key=lambda u: u.ref["span"][0], reverse=True):
            value = self.written.get(id(unit))
            if value is None:
                continue
            # a blank line would end the cue, and "-->" would start one: neither may come from the model
            lines = [line for line in value.replace("-->", "->").split("\n") if line.strip()] or ["…"]
            start, end = unit.ref["span"]
            text = text[:start] + self.newline.join(lines) + text[end:]
        encoding = self.encoding
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:  # a target language cp1252 cannot write: UTF-8, with the mark players look for
            return b"\xef\xbb\xbf" + text.encode("utf-8")
        return (b"\xef\xbb\xbf" if self.bom else b"") + data


def looks_like_subtitles(path: Path, data: bytes) -> bool:
    return path.suffix.lower() in (".srt", ".vtt")
