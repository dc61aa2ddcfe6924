"""Markdown: Flask's README (real) and the CommonMark/GFM constructs a documentation page holds: only text
changes, code blocks, front matter, link targets and reference definitions never reach the model."""

import re
from pathlib import Path

import pytest

from bayling_cat.connectors import open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "markdown"
DOC = """---
title: Test
---
# Guide *intro*

Some **bold** and _italic_ text with `code`, a [link](http://x.y "T") and ![img](a.png).
Second line of the paragraph.

- First item with snake_case_name
- Second item
  continued here
1. Numbered
> Quoted text
> on two lines

| Name | Description |
|------|-------------|
| `a`  | The first \\| one |

    indented code

Setext heading
==============

<!-- comment -->
Text with &amp; entity and a footnote[^1].
"""


def run(path, lang, translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def rendered(text: str) -> str:
    """The document as CommonMark renders it (markdown-it-py, GFM tables), text stripped of the [xx] marks."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(text)


def structure(text: str) -> list[str]:
    return re.findall(r"</?[a-z0-9]+", rendered(text))


def test_readme_round_trip_and_translation(tmp_path):
    source = tmp_path / "README.md"
    source.write_bytes((DATA / "README.md").read_bytes())
    connector = open_document(source)
    connector.set_target_language("de")
    segments = connector.segments()
    assert connector.serialize() == source.read_bytes()
    texts = " ".join(s.source for s in segments)
    assert "save this as app.py" not in texts and "flask run" not in texts  # code blocks
    assert "wsgi.readthedocs.io" not in texts and "flask-name.svg" not in texts  # ref definitions, HTML block
    result, translator = run(source, "de")
    assert result.output == tmp_path / "README.de.md"
    assert structure(result.output.read_text()) == structure(source.read_text())
    out = result.output.read_text()
    assert "```python\n# save this as app.py\n" in out and "[WSGI]: https://wsgi.readthedocs.io/\n" in out
    assert "\\[de\\] Flask is a lightweight [WSGI] web application framework." in out


def test_lost_and_doubled_line_breaks_never_split_a_paragraph(tmp_path):
    path = tmp_path / "p.md"
    path.write_text("> one [two\n> three](u) four\n> five\n")
    [segment] = open_document(path).segments()
    assert segment.source == "one <1>two<2/>three</1> four<4/>five"
    script = {segment.source: "<2/><4/>eins <1>zwei drei</1> vier fünf"}  # both breaks moved to the front
    result, _ = run(path, "de", ScriptedTranslator(script))
    assert result.output.read_text() == "> eins [zwei drei](u) vier fünf\n"
    assert structure(result.output.read_text()) == structure(path.read_text())


def test_constructs_and_codes(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(DOC)
    sources = [s.source for s in open_document(path).segments()]
    assert sources == ["Guide <1>intro</1>",  # emphasis and links are paired codes
                       "Some <1>bold</1> and <3>italic</3> text with <5/>, a <6>link</6> and <8/>.<9/>"
                       "Second line of the paragraph.",
                       "First item with snake_case_name", "Second item<1/>continued here", "Numbered",
                       "Quoted text<1/>on two lines", "Name", "Description", "<1/>", "The first <1/> one",
                       "Setext heading", "Text with <1/> entity and a footnote<2/>."]
    result, _ = run(path, "fr")
    out = result.output.read_text()
    assert structure(out) == structure(DOC)
    assert out.startswith("---\ntitle: Test\n---\n") and "    indented code\n" in out
    assert "snake_case_name" in out and '[link](http://x.y "T")' in out


class Hostile(ScriptedTranslator):
    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        from bayling_cat.engines.base import Generation

        self.calls.append((list(texts), source_lang, target_lang))
        return [Generation(f"# *x* [a](b) <b>c</b> `d` | e\n\n- f\n1. g {t}", []) for t in texts]


@pytest.mark.parametrize("name", ["README.md", "guide.md"])
def test_model_markup_never_changes_the_structure(tmp_path, name):
    path = tmp_path / name
    path.write_text((DATA / name).read_text() if name == "README.md" else DOC)
    result, _ = run(path, "de", Hostile())
    assert structure(result.output.read_text()) == structure(path.read_text())
