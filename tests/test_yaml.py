"""YAML (Rails i18n) on real files (Rails' own en.yml, Devise's): byte-identical when unchanged, comments,
quoting styles, flow sequences and symbols kept, the locale key and the plurals follow the target language,
and YAML bombs, aliases and merge keys refused."""

import shutil
from pathlib import Path

import pytest
import yaml

from bayling_cat.connectors import open_document
from bayling_cat.errors import UserError
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "yaml"


@pytest.fixture
def tree(tmp_path) -> Path:
    shutil.copytree(DATA, tmp_path / "yaml")
    return tmp_path / "yaml"


def run(path, lang, translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def flat(value, prefix=""):
    if isinstance(value, dict):
        return {k2: v2 for k, v in value.items() for k2, v2 in flat(v, f"{prefix}.{k}" if prefix else str(k)).items()}
    if isinstance(value, list):
        return {k2: v2 for i, v in enumerate(value) for k2, v2 in flat(v, f"{prefix}[{i}]").items()}
    return {prefix: value}


@pytest.mark.parametrize("name", ["rails/en.yml", "devise/en.yml"])
def test_no_change_round_trip_is_byte_identical(name):
    connector = open_document(DATA / name)
    connector.set_target_language("ru")
    assert connector.segments()
    assert connector.serialize() == (DATA / name).read_bytes()


def test_rails_locale_formats_symbols_and_flow_sequences(tree):
    result, translator = run(tree / "rails/en.yml", "de")
    assert result.output == tree / "rails/de.yml"
    before = yaml.safe_load((tree / "rails/en.yml").read_text())  # PyYAML: the reader Rails apps' tools use
    after = yaml.safe_load(result.output.read_text())
    assert list(after) == ["de"]  # the locale key follows the target language
    b, a = flat(before["en"]), flat(after["de"])
    assert list(a) == list(b)
    assert a["date.formats.default"] == "%Y-%m-%d" and a["time.formats.long"] == "%B %d, %Y %H:%M"  # only codes
    assert a["date.order[0]"] == ":year"  # a Ruby symbol is never translated
    assert a["date.month_names[0]"] is None and a["date.month_names[1]"] == "[de] January"
    text = result.output.read_text()
    assert "      # Use the strftime parameters for formats.\n" in text and "# Used in array.to_sentence.\n" in text
    assert "Sunday" in " ".join(translator.calls[0][0]) and ":year" not in translator.calls[0][0]


def test_devise_plurals_quotes_and_interpolation(tree):
    result, translator = run(tree / "devise/en.yml", "ru")
    assert result.output == tree / "devise/ru.yml"
    after = flat(yaml.safe_load(result.output.read_text()))
    plural = {k.rsplit(".", 1)[1]: v for k, v in after.items() if ".not_saved." in k}
    assert list(plural) == ["one", "few", "many", "other"]
    assert all("%{count}" in v and "%{resource}" in v for v in plural.values())  # never "1 error" for 21
    assert after["ru.devise.omniauth_callbacks.failure"] == '[ru] Could not authorize you from %{kind} because "%{reason}".'
    text = result.output.read_text()
    assert "      already_authenticated: '[ru] You are already signed in.'\n" in text  # its quoting style
    assert text.startswith("# Additional translations at http://github.com/plataformatec/devise/wiki/I18n\n\nru:\n")


@pytest.mark.parametrize("data, message", [
    ('a: &a ["x","x","x"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\n', "line 1: YAML anchors and aliases are refused"),
    ("base: &base\n  a: x\nen:\n  <<: *base\n", "line 1: YAML anchors and aliases are refused"),
    ("en:\n  a: 'unterminated\n  b: x\n", "line 4, column 1: not valid YAML (found unexpected end of stream while scanning a quoted scalar "
     "started at line 2)"),
    ("en:\n  a: [x, y\n", "not valid YAML"),
    ("en: a\n---\nde: b\n", "not valid YAML"),
])
def test_bombs_aliases_and_broken_yaml_are_refused(tmp_path, data, message):
    path = tmp_path / "en.yml"
    path.write_text(data)
    with pytest.raises(UserError) as err:
        open_document(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value) and "\n" not in str(err.value)


class Hostile(ScriptedTranslator):
    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        from bayling_cat.engines.base import Generation

        self.calls.append((list(texts), source_lang, target_lang))
        return [Generation(f"- '#: {{x}} [y] *z &w \"{t}\" \\ \x01\nnext: line", []) for t in texts]


@pytest.mark.parametrize("name", ["rails/en.yml", "devise/en.yml"])
def test_hostile_model_output_never_breaks_yaml(tree, name):
    result, _ = run(tree / name, "fr", Hostile())
    before = flat(yaml.safe_load((tree / name).read_text()))
    after = flat(yaml.safe_load(result.output.read_text()))
    keys = [k.split(".", 1)[1] for k in after if ".not_saved." not in k]
    assert keys == [k.split(".", 1)[1] for k in before if ".not_saved." not in k]
    assert [k.rsplit(".", 1)[1] for k in after if ".not_saved." in k] in ([], ["one", "many", "other"])
    assert all(isinstance(v, str) for k, v in after.items() if isinstance(before.get("en." + k.split(".", 1)[1]), str))
    assert all("\x01" not in v for v in after.values() if isinstance(v, str))
