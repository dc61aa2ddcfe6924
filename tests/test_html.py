"""HTML pages: HTML5 Boilerplate's index.html (real) and a page with the markup a site's pages hold: only the
text changes, inline markup is codes, scripts, styles, comments and code are never touched."""

from pathlib import Path

from lxml import html as lxml_html

from bayling_cat.connectors import open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "html"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="description" content="A page about caf&eacute;s &amp; tea">
  <title>Welcome &mdash; Home</title>
  <style>p { color: red; }</style>
  <script>var s = "<p>not text</p>";</script>
</head>
<body>
  <h1>Hello <em>world</em>!</h1>
  <p>Click <a href="/save" title="Save the file">here</a> to save,
     or press <kbd>Ctrl+S</kbd>.<br>
     Tom &amp; Jerry&nbsp;say caf&eacute;.</p>
  <ul><li>First item</li><li><img src="x.png" alt="A red car"> Second</li></ul>
  <p translate="no">Brand Name</p>
  <pre>code   stays</pre>
  <!-- a comment -->
  <input type="submit" value="Send">
</body>
</html>
"""


def run(path, lang, translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def skeleton(text: str):
    """The element tree as an HTML5 parser sees it: tags and attributes other than translated ones."""
    tree = lxml_html.document_fromstring(text)
    return [(el.tag, {k: v for k, v in el.attrib.items() if k not in ("alt", "title", "content", "value", "lang")})
            for el in tree.iter() if isinstance(el.tag, str)]


def test_boilerplate_round_trip_and_translation(tmp_path):
    source = tmp_path / "index.html"
    source.write_bytes((DATA / "index.html").read_bytes())
    connector = open_document(source)
    connector.set_target_language("de")
    segments = connector.segments()
    assert [s.source for s in segments] == ["Hello world! This is HTML5 Boilerplate."]  # comments, scripts: no
    assert connector.serialize() == source.read_bytes()
    result, _ = run(source, "de")
    assert result.output == tmp_path / "index.de.html"
    out = result.output.read_text()
    assert out == source.read_text().replace('lang=""', 'lang="de"').replace(
        "<p>Hello world!", "<p>[de] Hello world!")


def test_inline_markup_entities_attributes_and_what_is_never_translated(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE)
    result, translator = run(path, "fr")
    sent = translator.calls[0][0]
    assert "Click <1>here</1> to save, or press <2/>.<3/> Tom <4/> Jerry<5/>say café." in sent
    assert "A page about cafés & tea" in sent and "Save the file" in sent and "A red car" in sent
    assert not any("not text" in t or "Brand Name" in t or "code" in t or "comment" in t for t in sent)
    out = result.output.read_text()
    assert skeleton(out) == skeleton(PAGE)
    assert '<a href="/save" title="[fr] Save the file">here</a>' in out and "<kbd>Ctrl+S</kbd>" in out
    assert '<html lang="fr">' in out and '<script>var s = "<p>not text</p>";</script>' in out
    assert "<pre>code   stays</pre>" in out and '<p translate="no">Brand Name</p>' in out
    text = lxml_html.document_fromstring(out).text_content()
    assert "Tom & Jerry\xa0say café." in text


class Angle(ScriptedTranslator):
    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        from bayling_cat.engines.base import Generation

        self.calls.append((list(texts), source_lang, target_lang))
        return [Generation(f'<script>alert(1)</script> & "q" {t}', []) for t in texts]


def test_model_output_cannot_inject_markup(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE)
    result, _ = run(path, "de", Angle())
    out = result.output.read_text()
    assert "<script>alert(1)</script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert skeleton(out) == skeleton(PAGE)
