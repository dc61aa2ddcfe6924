"""JSON resources (i18next nested and flat, i18next-icu, Flutter ARB) on real files from public projects:
byte-identical when nothing changes, keys/order/placeholders kept, ICU and i18next plurals laid out for the
target language, descriptions given to the model as context, files named as i18next and Flutter expect."""

import json
import shutil
from pathlib import Path

import pytest

from bayling_cat.connectors import icu, open_document
from bayling_cat.errors import UserError
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats"
FILES = ["i18next/en/common.json", "i18next-icu/en/translations.json", "arb/intl_en_US.arb"]


@pytest.fixture
def tree(tmp_path) -> Path:
    shutil.copytree(DATA, tmp_path / "d")
    return tmp_path / "d"


def run(path: Path, lang: str, translator=None, **options):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False, **options)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def leaves(value, prefix=""):
    """Every string of a JSON document by key path, in order."""
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in leaves(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in leaves(v, f"{prefix}[{i}]")]
    return [(prefix, value)]


@pytest.mark.parametrize("name", FILES)
def test_no_change_round_trip_is_byte_identical(name):
    connector = open_document(DATA / name)
    connector.set_target_language("ru")
    assert connector.segments()
    assert connector.serialize() == (DATA / name).read_bytes()


def test_i18next_nested_keys_order_and_placeholders(tree):
    result, translator = run(tree / "i18next/en/common.json", "de")
    assert result.output == tree / "i18next/de/common.json"  # i18next's own layout: locales/<lng>/<ns>.json
    sent = translator.calls[0][0]
    assert "Change locale to \"<1/>\"" in sent and "Then you may have a look at <1/>this blog post<2/>." in sent
    before = leaves(json.loads((tree / "i18next/en/common.json").read_text()))
    after = leaves(json.loads(result.output.read_text()))
    assert [k for k, _ in after] == [k for k, _ in before]  # keys never translated, order kept
    assert dict(after)["change-locale"] == '[de] Change locale to "{{changeTo}}"'
    assert dict(after)["blog.ssg.answer"] == "[de] Then you may have a look at <1>this blog post</1>."
    # only the string values changed: the file's layout (indentation, no final newline) is the source's
    original = (tree / "i18next/en/common.json").read_text()
    assert result.output.read_text().replace("[de] ", "") == original


def test_icu_messages_in_i18next_get_the_target_languages_plural_forms(tree):
    result, translator = run(tree / "i18next-icu/en/translations.json", "ru")
    assert result.output == tree / "i18next-icu/ru/translations.json"
    sent = translator.calls[0][0]
    assert "plural," not in " ".join(sent) and "There are <1/> items." in sent
    before = json.loads((tree / "i18next-icu/en/translations.json").read_text())
    after = json.loads(result.output.read_text())
    assert list(after) == list(before)
    for key, value in after.items():
        if icu.looks_like_icu(before[key]):
            [node] = [p for p in icu.parse(value) if isinstance(p, icu.Select)]
            keys = [k for k, _ in node.branches]
            if node.kind == "plural":
                assert [k for k in keys if not k.startswith("=")] == ["one", "few", "many", "other"], key
    assert after["testKey"] == ("{itemsCount3, plural,  =0 { [ru] There is <0>no</0> item. } one { [ru] There is "
                                "<1>#</1> item. } few { [ru] There are <2>#</2> items. } many { [ru] There are <2>#</2> "
                                "items. } other { [ru] There are <2>#</2> items. }}")
    assert after["icu_and_trans"].startswith("{numPersons, plural, =0 {[ru] We invited <0>no persons</0>.}")


def test_arb_descriptions_are_context_metadata_kept_and_file_named_for_flutter(tree):
    result, translator = run(tree / "arb/intl_en_US.arb", "pt-BR")
    assert result.output == tree / "arb/intl_pt_BR.arb"
    texts = translator.calls[0][0]
    context = {t: getattr(h, "context", None) for t, h in zip(texts, translator.hints)}
    assert context["Login to Rally"].startswith("Title for login page for the Rally app")
    before = json.loads((tree / "arb/intl_en_US.arb").read_text())
    after = json.loads(result.output.read_text())
    assert list(after) == list(before)
    assert {k: v for k, v in after.items() if k.startswith("@")} == {k: v for k, v in before.items() if k.startswith("@")}
    assert after["rallyBillAmount"] == "[pt-BR] {billName} bill due {date} for {amount}."
    shape = [p for p in icu.parse(after["rallyAlertsMessageUnassignedTransactions"]) if isinstance(p, icu.Select)]
    assert [k for k, _ in shape[0].branches] == ["=1", *icu.categories("pt-BR")]


I18NEXT_V4 = ('{\n  "inbox": {\n    "message_one": "You have {{count}} message",\n'
              '    "message_other": "You have {{count}} messages",\n    "empty": "No messages"\n  }\n}\n')


@pytest.mark.parametrize("lang, suffixes", [("ru", ["one", "other", "few", "many"]), ("ja", ["other"]),
                                            ("de", ["one", "other"])])
def test_i18next_plural_suffixes_follow_cldr(tmp_path, lang, suffixes):
    path = tmp_path / "en.json"
    path.write_text(I18NEXT_V4)
    result, translator = run(path, lang)
    assert result.output == tmp_path / f"{lang}.json"
    data = json.loads(result.output.read_text())["inbox"]
    assert [k for k in data if k.startswith("message_")] == [f"message_{s}" for s in suffixes]
    assert list(data)[-1] == "empty"
    assert all(v.startswith(f"[{lang}] ") and "{{count}}" in v for k, v in data.items() if k != "empty")
    forms = [h for h in translator.hints if h and "plural form" in h]  # the model is told which form it writes
    assert len(forms) == len(suffixes) and all(f"'{s}'" in " ".join(forms) for s in suffixes)


@pytest.mark.parametrize("data, message", [
    (b'{\n  "a": "b",\n  "c": "d', "bad.json: line 3, column 8: not valid JSON"),
    (b'["a", "b"]', "bad.json: the JSON holds arr at the top"),
    (b'{"a": "x", "a": "y"}', "bad.json: the key 'a' appears twice"),
    (b'{"a": "\xff"}', "bad.json: line 1: not UTF-8"),
    (b'{"a": "{n, plural, one {x}}"}', None),
])
def test_bad_json_is_refused_in_one_line(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    if message is None:  # a broken ICU message: that string is left alone, the file still translated
        result, _ = run(path, "de")
        assert result.segments[0].action == "skipped" and "ICU" in result.segments[0].flags[0]
        return
    with pytest.raises(UserError) as err:
        open_document(path)
    assert str(err.value).startswith(str(path.parent / message)) and "\n" not in str(err.value)


class Hostile(ScriptedTranslator):
    """Answers with what breaks JSON and ICU: quotes, backslashes, braces, '#', apostrophes, controls."""

    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        from bayling_cat.engines.base import Generation

        self.calls.append((list(texts), source_lang, target_lang))
        return [Generation('\\"}{ # \'{x}\' ' + t + ' l\'" \x01 {{', []) for t in texts]


@pytest.mark.parametrize("name", FILES)
def test_hostile_model_output_never_breaks_json_or_icu(tree, name):
    result, _ = run(tree / name, "ru", Hostile())
    before = json.loads((tree / name).read_text())
    after = json.loads(result.output.read_text())
    assert [k for k, _ in leaves(after)] == [k for k, _ in leaves(before)]
    for (key, old), (_, new) in zip(leaves(before), leaves(after)):
        if isinstance(old, str) and icu.looks_like_icu(old) and not key.startswith("@"):
            icu.parse(new)  # still a valid message
            assert "\x01" not in new
