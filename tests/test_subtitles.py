"""Subtitles (SubRip, WebVTT) on webvtt-py's test files: timings, numbers, identifiers, NOTE and STYLE blocks
never change, cue markup and karaoke timestamps are codes, and what a model answers cannot break a cue."""

import re
import shutil
from pathlib import Path

import pytest

from bayling_cat.connectors import open_document
from bayling_cat.errors import UserError
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "subtitles"
FILES = ["sample.srt", "comments.vtt", "cue_tags.vtt", "styles.vtt"]
TIMING = re.compile(r"^.*-->.*$", re.M)


def run(path, lang, translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def skeleton(text: str) -> list[str]:
    """Everything that is not cue text: timing lines, numbers, identifiers, headers, NOTE and STYLE blocks."""
    blocks = re.split(r"\r?\n\r?\n", text.strip())
    out = []
    for block in blocks:
        lines = block.splitlines()
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        out.append("\n".join(lines if timing is None else lines[:timing + 1]))
    return out


@pytest.mark.parametrize("name", FILES)
def test_no_change_round_trip_and_nothing_but_cue_text_changes(tmp_path, name):
    connector = open_document(DATA / name)
    connector.set_target_language("de")
    assert connector.segments() and connector.serialize() == (DATA / name).read_bytes()
    shutil.copy(DATA / name, tmp_path / name)
    result, translator = run(tmp_path / name, "de")
    assert result.output == tmp_path / name.replace(".", ".de.")
    source, output = (DATA / name).read_text(), result.output.read_text()
    assert skeleton(output) == skeleton(source)
    assert not any("-->" in t for t in translator.calls[0][0])  # timings never reach the model
    assert output.count("[de] ") == len(TIMING.findall(source))


def test_cue_markup_and_karaoke_timestamps_are_codes(tmp_path):
    connector = open_document(DATA / "cue_tags.vtt")
    assert [s.source for s in connector.segments()] == [
        "When the moon <1/>hits your eye", "Like a <1/>big-a <2/>pizza <3/>pie", "That's <1/><2/>amore<3/>"]
    comments = {s.key: s for s in open_document(DATA / "comments.vtt").segments()}
    assert comments["3 00:02:25.000"].hint.context == "This last line may not translate well."


SRT = ("1\r\n00:00:01,000 --> 00:00:04,000\r\n{\\an8}<i>Where are you going?</i>\r\n\r\n"
       "2\r\n00:00:05,000 --> 00:00:07,500 X1:40 X2:600\r\n<font color=\"#ffff00\">To the &amp; station.</font>\r\n"
       "Come with me!\r\n")


class Breaker(ScriptedTranslator):
    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        from bayling_cat.engines.base import Generation

        self.calls.append((list(texts), source_lang, target_lang))
        return [Generation(f"{t}\n\n99\n00:00:00,000 --> 00:00:09,000\nfake cue", []) for t in texts]


def test_srt_tags_crlf_and_a_model_that_tries_to_add_cues(tmp_path):
    path = tmp_path / "movie.en.srt"
    path.write_bytes(SRT.encode("utf-8"))
    segments = open_document(path).segments()
    assert [s.source for s in segments] == ["<1/><2/>Where are you going?<3/>",
                                            "<1/>To the <2/> station.<3/><4/>Come with me!"]
    result, _ = run(path, "fr", Breaker())
    assert result.output == tmp_path / "movie.fr.srt"
    data = result.output.read_bytes().decode("utf-8")
    assert "\n" not in data.replace("\r\n", "")  # CRLF stays CRLF
    assert skeleton(data) == skeleton(SRT)  # no cue added, no timing changed
    assert data.count("-->") == 2 and "\r\n\r\n99" not in data


@pytest.mark.parametrize("name, message", [
    ("missing_timeframe.srt", "missing_timeframe.srt: line 5: a cue without a timing line"),
])
def test_broken_subtitles_are_refused(name, message):
    with pytest.raises(UserError, match=message):
        open_document(DATA / name)


def test_a_vtt_without_its_header_is_refused(tmp_path):
    path = tmp_path / "x.vtt"
    path.write_text("00:00.000 --> 00:01.000\nHi\n")
    with pytest.raises(UserError, match="x.vtt: line 1: a WebVTT file must begin with WEBVTT"):
        open_document(path)
