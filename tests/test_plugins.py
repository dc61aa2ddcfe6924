"""Every CAT-tool plugin answered exactly (issue 23): each test sends the bytes a real plugin sends, built as
its source builds them (file and version cited), and parses our answer as its client code does. Then the
issue's fourteen findings as regression tests, and issue 25's items 1, 9 (OpenAI), 10 and 19.

The engine is a fake that answers "[tr] " + the text it was asked to translate, so that a segment passed on
byte for byte (quotes, fences, outer space, placeholders) shows exactly.
"""

import json
import re

import pytest

from bayling_cat.engines.base import Generation
from bayling_cat.server import create_app
from tests.fakes import FakeEngine, echo


@pytest.fixture
def fake():
    return FakeEngine(echo)


@pytest.fixture
def client(fake):
    return create_app(fake, window=0.01).test_client()


def post(client, body, status=200):
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status, r.data
    return r.get_json()


def openai_content(reply):
    """What every OpenAI-speaking plugin reads: choices[0].message.content."""
    return reply["choices"][0]["message"]["content"]


# -- Weblate ------------------------------------------------------------------------------------------------

SEPARATOR = "\n==WEBLATE_PART==\n"


def weblate_59_prompt(source, target, glossary_tsv="", batch=True):
    """weblate/machinery/openai.py (5.3 to 5.9): PROMPT.format(...) with empty persona and style,
    SEPARATOR_PROMPT for more than one unit, GLOSSARY_PROMPT with render_glossary_units_tsv, and
    format_replacement(0, ...) / (123, ...) as the placeables [X0X] and [X123X]."""
    separator = f"\nYou receive an input as strings separated by {SEPARATOR} and\nyour answer separates strings by " \
                f"{SEPARATOR}.\n" if batch else ""
    glossary = f"\nUse the following glossary during the translation:\n{glossary_tsv}\n" if glossary_tsv else ""
    return (f"\nYou are a highly skilled translation assistant, adept at translating text\nfrom language '{source}'\n"
            f"to language '{target}'\nwith precision and nuance.\n\n\nYou always reply with translated string only.\n"
            f"You do not include transliteration.\n{separator}\nYou treat strings like [X0X] or [X123X] as "
            f"placeables for user input and keep them intact.\n{glossary}\n")


def test_weblate_5_9_separator_batch_quotes_and_placeables(client, fake):
    texts = ['"Cancel', 'Retry"', "Open [X5X] files", "  padded  "]
    body = {"model": "gpt-4o", "temperature": 0, "frequency_penalty": 0, "presence_penalty": 0, "messages": [
        {"role": "system", "content": weblate_59_prompt("en", "de", "folder\tOrdner\nfile\tDatei")},
        {"role": "user", "content": SEPARATOR.join(texts)}]}
    reply = post(client, body)
    translations = openai_content(reply).split(SEPARATOR)  # download_multiple_translations: split, count checked
    assert len(translations) == len(texts)
    assert translations == ['[tr] "Cancel', '[tr] Retry"', "[tr] Open [X5X] files", "  [tr] padded  "]
    assert reply["bayling_cat"]["recognized"] == "weblate-separator"
    assert any("file = Datei" in c[0].content for c in fake.conversations)  # the glossary TSV is applied


def test_weblate_5_9_one_string_has_no_separator_prompt(client):
    reply = post(client, {"model": "gpt-4o", "messages": [
        {"role": "system", "content": weblate_59_prompt("pt_BR", "zh_Hant", batch=False)},
        {"role": "user", "content": '"Open the file."'}]})
    assert openai_content(reply) == '[tr] "Open the file."'  # issue 23, item 1: the quotes are the source's
    assert (reply["bayling_cat"]["source_lang"], reply["bayling_cat"]["target_lang"]) == ("pt-BR", "zh-Hant")


def test_weblate_json_forbidden_term_is_banned_not_preferred(client, fake):
    """weblate/machinery/llm.py (5.13+): glossary entries carry flags; a "forbidden" term must not be used
    (issue 23, item 5): it is banned in decoding and never given to the model as a term to use."""
    payload = {"source_language": "en", "target_language": "de", "strings": [{"source": "Open the folder"}],
               "glossary": [{"source": "folder", "target": "Verzeichnis", "flags": ["forbidden"]},
                            {"source": "Weblate", "target": "Weblate", "flags": ["read-only"]}]}
    reply = post(client, {"model": "m", "messages": [{"role": "system", "content": "x"},
                                                     {"role": "user", "content": json.dumps(payload)}]})
    assert json.loads(openai_content(reply)) == ["[tr] Open the folder"]
    asked = " ".join(m.content for c in fake.conversations for m in c)
    assert "folder = Verzeichnis" not in asked
    assert ["Verzeichnis"] in [seq for calls in fake.suppressed for seq in calls]


# -- memoQ Multi-Supplier MT plugin -------------------------------------------------------------------------

MEMOQ_SYSTEM = ("You are a professional translator using CAT tools. \r\nSource text may contain tags like <b>, <i>, "
                "<u>, <sub>, <sup>, <inline_tag>, <structural_tag>, <spec_char>, or <span data-mqitag>. \r\n"
                "Do not translate, modify, or remove these tags. Keep them exactly as they are and in the correct "
                "positions. \r\nOutput only the translation — no comments or explanations. ")


def memoq_batch_deserialize(content, count):
    """BatchTranslateHelper.Deserialize (Shorter schema, Text/JSON_Object format): the JSON object between the
    first '{' and the last '}', exactly ``count`` keys "1".."count"."""
    first, last = content.find("{"), content.rfind("}")
    data = json.loads(content[first:last + 1])
    assert len(data) == count, "The number of batch translation items is incorrect."
    out = [None] * count
    for key, value in data.items():
        index = int(key) - 1
        assert 0 <= index < count and out[index] is None
        out[index] = value
    return out


def test_memoq_multi_supplier_single_segment(client):
    """LLMCommonSettings.cs PromptTemplate.GetDefault: UserPrompt "Translate the following text from
    {{source-language!}} to {{target-language!}}: \\r\\n{{source-text!}}", names from LanguageHelper."""
    text = 'Click <inline_tag id="0">Save</inline_tag> "now"'
    reply = post(client, {"model": "gpt-4o", "temperature": 1.0, "max_tokens": 4096, "messages": [
        {"role": "system", "content": MEMOQ_SYSTEM},
        {"role": "user", "content": f"Translate the following text from English (United States) to German "
                                    f"(Switzerland): \r\n{text}"}]})
    assert openai_content(reply) == f"[tr] {text}"
    assert reply["bayling_cat"]["recognized"] == "memoq-multi-supplier"
    assert reply["bayling_cat"]["target_lang"] == "de-CH"  # issue 23, item 6: the variant is kept


@pytest.mark.parametrize("target,expected", [("Chinese (Taiwan)", "zh-TW"), ("Chinese (Hong Kong S.A.R.)", "zh-HK"),
                                             ("German", "de")])
def test_memoq_multi_supplier_batch_is_answered_as_a_json_object(client, target, expected):
    """BathTranslateUserPrompt + BatchTranslateHelper.Serialize (Newtonsoft, Shorter schema) and
    response_format json_object (BatchTranslateResponseFormat.JSON_Object); issue 23, item 9."""
    texts = ["Open", 'Save "all"', "  ", "Delete <b>now</b>"]
    serialized = json.dumps({str(i + 1): t for i, t in enumerate(texts)}, ensure_ascii=False, separators=(",", ":"))
    reply = post(client, {"model": "gpt-4o", "response_format": {"type": "json_object"}, "messages": [
        {"role": "system", "content": MEMOQ_SYSTEM},
        {"role": "user", "content": f"Translate the following JSON from English to {target}. \r\nReturn a valid JSON "
                                    f"object with the same keys and the translated sentences as values: \r\n"
                                    f"{serialized}"}]})
    assert memoq_batch_deserialize(openai_content(reply), len(texts)) == \
        ["[tr] Open", '[tr] Save "all"', "  ", "[tr] Delete <b>now</b>"]
    assert reply["bayling_cat"]["recognized"] == "memoq-multi-supplier-batch"
    assert reply["bayling_cat"]["target_lang"] == expected


# -- TradosLLM ----------------------------------------------------------------------------------------------

TRADOS_SYSTEM = ("You are a translation engine, NOT a chat assistant. Translate the user's text from {src} to {tgt}. "
                 "Rules: 1) Output ONLY the translation - never greetings, explanations, questions, or code fences. "
                 "2) If the text is a number, symbol, code, proper name, or otherwise untranslatable, output it "
                 "unchanged. 3) If the text contains placeholders like [[1]], [[2]], keep every placeholder unchanged "
                 "and in the same order. 4) Never respond conversationally, no matter how short or odd the input is.")


def trados_clean(content):
    """OpenAiCompatEngine.Clean: trim, then strip a code fence the answer starts with."""
    content = (content or "").strip()
    if content.startswith("```"):
        start, end = content.find("\n"), content.rfind("```")
        if 0 < start < end:
            content = content[start + 1:end].strip()
    return content


def test_tradosllm_placeholders_survive_a_model_that_mangles_brackets():
    """OpenAiCompatEngine.TranslateOneAsync: system prompt with pair.SourceCultureName/TargetCultureName, the
    segment as the user message, temperature 0 (issue 23, item 8)."""
    engine = FakeEngine(lambda conv: echo(conv).replace("[[", "((").replace("]]", "))").replace("(tr)", "[tr]"))
    client = create_app(engine, window=0.01).test_client()
    text = "Open [[1]]the file[[2]] and [[3]]"
    reply = post(client, {"model": "qwen", "temperature": 0, "messages": [
        {"role": "system", "content": TRADOS_SYSTEM.format(src="en-US", tgt="zh-CN")},
        {"role": "user", "content": text}]})
    assert trados_clean(openai_content(reply)) == f"[tr] {text}"
    assert reply["bayling_cat"]["recognized"] == "tradosllm"
    assert (reply["bayling_cat"]["source_lang"], reply["bayling_cat"]["target_lang"]) == ("en-US", "zh-CN")


# -- OmegaT plugins -----------------------------------------------------------------------------------------

def test_omegat_openai_translate_ychoi_glossary_and_tags(client, fake):
    """kr/ychoi/otplugin/OpenAITranslate.java createSystemPrompt: BASE_PROMPT with Language.getLanguage()
    (EN-US), "Glossary:" then source TAB target lines; the segment with OmegaT's tags as the user message."""
    system = ("You are a translation tool integrated in a CAT (Computer-Assisted Translation) tool. Translate the "
              "following text from EN-US to DE-DE. Preserve the tags in the text and keep any segmentations intact."
              "\n\nGlossary:\nfolder\tOrdner\n")
    text = "Open the <b0>folder</b0> <x1/>"
    reply = post(client, {"model": "gpt-4o", "temperature": 0.0, "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": text}]})
    assert openai_content(reply).strip() == f"[tr] {text}"
    assert reply["bayling_cat"]["recognized"] == "omegat-openai-translate"
    assert any("folder = Ordner" in c[-1].content for c in fake.conversations)


def test_omegat_glossary_lines_with_src_loc_comment(client, fake):
    """Issue 23, item 11: glossary lines "src: folder, loc: Ordner, comment: ..." are applied."""
    system = ("Please translate the following text from EN to DE.\nGlossary:\nsrc: folder, loc: Ordner, comment: a "
              "directory\nsrc: file, loc: Datei\n")
    post(client, {"model": "gpt-4o", "messages": [{"role": "system", "content": system},
                                                  {"role": "user", "content": "Open the folder and the file"}]})
    asked = fake.conversations[0][0].content
    assert "folder = Ordner" in asked and "file = Datei" in asked


def test_omegat_openaitrans_inertia42_default_prompt(client):
    """OpenaiTranslate.java: defaultPrompt "Please translate the following text from %s to %s." as the system
    message, the text (cut at 5,000 characters) as the user message, url + "/v1/chat/completions"."""
    reply = post(client, {"model": "gpt-4o-mini", "temperature": 0.0, "messages": [
        {"role": "system", "content": "Please translate the following text from EN-US to ZH-CN."},
        {"role": "user", "content": "Save {0} files?"}]})
    assert openai_content(reply) == "[tr] Save {0} files?"
    assert reply["bayling_cat"]["recognized"] == "omegat-openaitrans"


def test_omegat_llm_translate_ai4j_default_prompt(client):
    """PluginConfig.java DEFAULT_SYSTEM_PROMPT with {sourceLang}/{targetLang} = Language.getLanguageCode(),
    DEFAULT_USER_PROMPT "{text}"."""
    reply = post(client, {"model": "deepseek-chat", "messages": [
        {"role": "system", "content": "You are a professional translator. Translate from EN to FR. Preserve any tags "
                                      "in the text. Return ONLY the translation, no explanations."},
        {"role": "user", "content": "<g0>Save</g0> as %s"}]})
    assert openai_content(reply) == "[tr] <g0>Save</g0> as %s"
    assert reply["bayling_cat"]["recognized"] == "omegat-llm-translate"


# -- instructions in Chinese, blank segments, lengths, finish_reason ---------------------------------------

def test_chinese_instruction_is_a_translation_not_a_chat(client, fake):
    """Issue 23, item 3: BayLing's own language pair, asked in Chinese."""
    reply = post(client, {"model": "m", "messages": [{"role": "user", "content": "请将下面的英语文本翻译成中文。\nOpen the file."}]})
    assert openai_content(reply) == "[tr] Open the file."
    assert (reply["bayling_cat"]["source_lang"], reply["bayling_cat"]["target_lang"]) == ("en", "zh")
    assert fake.conversations[-1][-1].content.startswith("Translate the following English text into Chinese")


def test_a_blank_segment_with_an_instruction_stays_blank(client, fake):
    """Issue 23, item 4."""
    for blank in ("", "   ", "\n"):
        reply = post(client, {"model": "m", "messages": [
            {"role": "system", "content": "Translate from English to German."}, {"role": "user", "content": blank}]})
        assert openai_content(reply) == blank
    assert fake.conversations == []  # no model call at all


class CutEngine(FakeEngine):
    """Every translation cut at the generation limit."""

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None):
        return [Generation(g.text, ["length-limit"]) for g in super().generate(conversations, source_texts,
                                                                               suppress_sequences, progress)]


def test_finish_reason_is_length_when_the_engine_cut():
    """Issue 23, item 2: Weblate and memoQ read finish_reason."""
    client = create_app(CutEngine(echo), window=0.01).test_client()
    messages = [{"role": "system", "content": "Translate from English to German."}, {"role": "user", "content": "Hi"}]
    reply = post(client, {"model": "m", "messages": messages})
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["bayling_cat"]["flags"] == [["length-limit"]]
    r = client.post("/v1/chat/completions", json={"model": "m", "stream": True, "messages": messages})
    events = [json.loads(e[6:]) for e in r.get_data(as_text=True).split("\n\n") if e.startswith("data: {")]
    assert events[-1]["choices"][0]["finish_reason"] == "length"
    assert "content_filter" not in r.get_data(as_text=True)


@pytest.mark.parametrize("route", ["openai", "apertium", "libretranslate", "deepl", "native"])
def test_the_20000_character_limit_is_the_same_on_every_protocol(client, route):
    """Issue 23, item 7 and issue 25, item 10: 20,001 characters are 413 everywhere, 20,000 are translated."""
    for size, status in ((20_001, 413), (20_000, 200)):
        text = "a" * size
        r = {"openai": lambda: client.post("/v1/chat/completions", json={"model": "m", "messages": [
                 {"role": "system", "content": "Translate from English to German."},
                 {"role": "user", "content": text}]}),
             "apertium": lambda: client.post("/translate", data={"q": text, "langpair": "en|de"}),
             "libretranslate": lambda: client.post("/translate", json={"q": text, "source": "en", "target": "de"}),
             "deepl": lambda: client.post("/v2/translate", json={"text": [text], "target_lang": "DE",
                                                                 "source_lang": "EN"}),
             "native": lambda: client.post("/v1/translate", json={"segments": [text], "source_lang": "en",
                                                                  "target_lang": "de"})}[route]()
        assert r.status_code == status, (route, size, r.data[:200])


@pytest.mark.parametrize("char", ["\x00", "\x07", "\ufffe"])
def test_apertium_refuses_what_xml_cannot_hold(client, char):
    """Issue 25, item 10: NUL, BEL and U+FFFE were answered 200 by Apertium's /translate."""
    for method in ("get", "post"):
        r = getattr(client, method)("/translate", **({"query_string": {"q": f"a{char}b", "langpair": "en|de"}}
                                                      if method == "get" else {"data": {"q": f"a{char}b",
                                                                                         "langpair": "en|de"}}))
        body = r.get_json()
        assert r.status_code == 400 and body["responseStatus"] == 400 and "character 2" in body["responseDetails"]


def test_openai_lone_surrogate_and_deep_brackets_are_400_or_answered(client):
    """Issue 25, item 9: a lone surrogate was a 500, 100,000 '[' a RecursionError."""
    r = client.post("/v1/chat/completions", data=b'{"model": "m", "messages": [{"role": "user", "content": '
                                                 b'"Translate into German: x\\ud800y"}]}',
                    content_type="application/json")
    assert r.status_code == 400 and "surrogate" in r.get_json()["error"]["message"]
    reply = post(client, {"model": "m", "messages": [{"role": "user", "content": "[" * 100_000}]})
    assert reply["bayling_cat"]["recognized"] == "chat"
    reply = post(client, {"model": "m", "messages": [{"role": "system", "content": "Translate from English to German."},
                                                     {"role": "user", "content": "[" * 10_000}]})
    assert openai_content(reply) == "[" * 10_000  # codes and punctuation only: its own translation


def test_unrecognised_requests_are_a_chat_only_when_the_model_chats(fake):
    class NoChat(FakeEngine):
        chat = None

    client = create_app(NoChat(echo), window=0.01).test_client()
    r = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "Hello"}]})
    assert r.status_code == 400 and "not recognised as a translation request" in r.get_json()["error"]["message"]
    reply = post(create_app(fake, window=0.01).test_client(), {"model": "m", "messages": [
        {"role": "user", "content": "Hello"}]})
    assert reply["bayling_cat"] == {"recognized": "chat", "form": "chat", "plugin": None}


# -- native API, LibreTranslate, DeepL, keys -----------------------------------------------------------------

def test_native_translate_with_only_a_forbidden_term(client, fake):
    """Issue 23, item 13: a forbidden term without a preferred one was an IndexError (Term.preferred)."""
    r = client.post("/v1/translate", json={"segments": ["Open the folder"], "source_lang": "en", "target_lang": "de",
                                           "terms": [{"source": "folder", "target": "Verzeichnis",
                                                      "kind": "forbidden"}]})
    assert r.status_code == 200, r.data
    assert r.get_json()["translations"][0]["text"] == "[tr] Open the folder"
    assert ["Verzeichnis"] in [seq for calls in fake.suppressed for seq in calls]


def test_libretranslate_detect_and_source_auto(client, fake):
    """Issue 23, item 14: /detect was a 404 and source "auto" a 400. The OmegaT LibreTranslate plugin and
    libretranslatepy send source "auto" when asked to detect."""
    r = client.post("/detect", data={"q": "Ceci est une phrase française assez longue."})
    found = r.get_json()
    assert r.status_code == 200 and found[0]["language"] == "fr" and 0 < found[0]["confidence"] <= 100
    both = client.post("/detect", json={"q": ["Guten Tag, wie geht es Ihnen heute?", "打开文件并保存更改"]}).get_json()
    assert [d[0]["language"] for d in both] == ["de", "zh"]
    r = client.post("/translate", json={"q": ["Guten Tag, wie geht es Ihnen heute?", "Das ist ein Test."],
                                        "source": "auto", "target": "en"})
    answer = r.get_json()
    assert r.status_code == 200 and [d["language"] for d in answer["detectedLanguage"]] == ["de", "de"]
    assert fake.conversations[-1][-1].content.startswith("Translate the following German text into English")


def test_libretranslate_alternatives_are_whole_translations():
    """Issue 23, item 12: alternatives were next-word fragments. Here each draw of the (sampling) engine gives
    another whole translation; the alternatives are whole, different from the main one and each other."""
    answers = iter(["Erste Übersetzung", "Zweite Übersetzung", "Erste Übersetzung", "Dritte Übersetzung",
                    "Vierte Übersetzung"] * 3)

    class Sampling(FakeEngine):
        def with_decoding(self, **changes):
            assert changes["sampling_temperature"] > 0
            return self

    client = create_app(Sampling(lambda conv: next(answers)), window=0.01).test_client()
    r = client.post("/translate", json={"q": "First translation", "source": "en", "target": "de", "alternatives": 2})
    answer = r.get_json()
    assert answer["translatedText"] == "Erste Übersetzung"
    assert answer["alternatives"] == ["Zweite Übersetzung", "Dritte Übersetzung"]


def test_deepl_without_source_lang_detects_it(client, fake):
    r = client.post("/v2/translate", json={"text": ["Ceci est une phrase française assez longue."],
                                           "target_lang": "DE"})
    assert r.get_json()["translations"][0]["detected_source_language"] == "FR"
    assert fake.conversations[-1][-1].content.startswith("Translate the following French text into German")


def test_keyless_protocols_need_no_key_the_others_do(fake):
    """Issue 23, item 14: Weblate's Apertium machinery and OmegaT's LibreTranslate plugin cannot send a key."""
    client = create_app(fake, api_key="k3y", window=0.01, keyless=("apertium", "libretranslate")).test_client()
    # weblate/machinery/apertium.py: download_languages GETs /listPairs, download_translations GETs /translate
    # with langpair, q and markUnknown=no, and no key at all
    pairs = client.get("/listPairs").get_json()["responseData"]
    assert {"sourceLanguage": "eng", "targetLanguage": "deu"} in pairs
    r = client.get("/translate", query_string={"langpair": "eng|deu", "q": "Hi", "markUnknown": "no"})
    assert r.get_json()["responseData"]["translatedText"] == "[tr] Hi"
    assert client.post("/translate", data={"q": "Hi", "source": "en", "target": "de"}).status_code == 200
    assert client.post("/v2/translate", json={"text": ["Hi"], "target_lang": "DE"}).status_code == 403
    assert client.post("/v1/chat/completions", json={"model": "m", "messages": [
        {"role": "user", "content": "Hi"}]}).status_code == 401
    strict = create_app(fake, api_key="k3y", window=0.01).test_client()
    assert strict.get("/translate?q=Hi&langpair=en|de").status_code == 403  # the default is unchanged


def test_keyless_is_refused_beyond_loopback():
    from bayling_cat.errors import UserError
    from bayling_cat.server import keyless

    assert keyless.parse("apertium, LibreTranslate") == ("apertium", "libretranslate")
    with pytest.raises(UserError, match="loopback"):
        keyless.check("0.0.0.0", ("apertium",), loopback=False)
    keyless.check("127.0.0.1", ("apertium",), loopback=True)
    with pytest.raises(UserError, match="deepl"):
        keyless.parse("deepl")


# -- the documentation is kept true ----------------------------------------------------------------------------

def test_docs_name_every_plugin_shape_and_its_source():
    from pathlib import Path

    from bayling_cat.server.recognize import SHAPES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "server.md").read_text(encoding="utf-8")
    for shape in SHAPES:
        assert f"`{shape.id}`" in doc, shape.id
        if shape.source:
            assert shape.source.split(" (")[0].split(",")[0] in doc, shape.source
    cited = re.findall(r"(tests/test_\w+\.py)::(test_\w+)", doc)
    assert len(cited) >= 12  # every row of the CAT-tool tables names its test
    for module, name in cited:
        source = (Path(__file__).resolve().parent.parent / module).read_text(encoding="utf-8")
        assert f"def {name}(" in source, (module, name)


# -- issue 25, item 19: a DOCX that names no language ----------------------------------------------------------

def bare_docx(path, paragraphs):
    """A Word document without styles.xml: it names no language at all."""
    import zipfile

    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns='
                   '"http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
                   'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
                   'ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns='
                   '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
                   '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
                   'Target="word/document.xml"/></Relationships>')
        z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document '
                   'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
                   f"{body}</w:body></w:document>")
    return path


def test_a_docx_naming_no_language_has_its_source_detected(tmp_path):
    from bayling_cat.pipeline import Options, Pipeline
    from tests.fakes import ScriptedTranslator

    path = bare_docx(tmp_path / "bericht.docx", ["Die Datei konnte nicht gespeichert werden.",
                                                  "Bitte versuchen Sie es später noch einmal."])
    said, translator = [], ScriptedTranslator()
    [result] = Pipeline(translator, Options(target_lang="fr"), say=said.append).run([str(path)])
    assert result.error is None and result.source_lang == "de"
    assert translator.calls[0][1:] == ("de", "fr")
    assert any("names no source language; detected German (de)" in line and "--source-lang" in line for line in said)
    # -s still decides, and says nothing
    said.clear()
    [result] = Pipeline(ScriptedTranslator(), Options(source_lang="nl", target_lang="fr"), say=said.append).run(
        [str(path)])
    assert result.source_lang == "nl" and not any("detected" in line for line in said)


# -- real clients against a real server process (the tiny random model) --------------------------------------

@pytest.fixture(scope="module")
def keyless_server(tiny_model, tmp_path_factory):
    from tests.test_protocols import start

    url, proc = start(tiny_model, tmp_path_factory.mktemp("home"), "--api-key", "k3y", "--keyless", "libretranslate")
    yield url
    proc.terminate()
    proc.wait(30)


def test_libretranslatepy_without_a_key_on_a_keyless_server(keyless_server):
    """libretranslatepy (what OmegaT-style tools use) sends api_key only when given one."""
    from libretranslatepy import LibreTranslateAPI

    client = LibreTranslateAPI(keyless_server)
    found = client.detect("Ceci est une phrase française assez longue.")
    assert found[0]["language"] == "fr"
    assert isinstance(client.translate("Guten Tag, wie geht es Ihnen heute?", source="auto", target="en"), str)
    import openai

    with pytest.raises(openai.AuthenticationError):  # the key still guards every other protocol
        openai.OpenAI(base_url=keyless_server + "v1", api_key="none", max_retries=0).models.list()


def test_openai_sdk_reads_a_plugin_answer_from_the_real_engine(keyless_server):
    """The tiny model's words are random, but the form is real: TradosLLM's request, its [[n]] placeholders
    back in order, finish_reason stop or length, the bayling_cat field."""
    import openai

    client = openai.OpenAI(base_url=keyless_server + "v1", api_key="k3y", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", temperature=0, messages=[
        {"role": "system", "content": TRADOS_SYSTEM.format(src="en-US", tgt="de-DE")},
        {"role": "user", "content": "Open [[1]]the file[[2]]."}])
    text = trados_clean(reply.choices[0].message.content)
    assert text.index("[[1]]") < text.index("[[2]]")
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.model_extra["bayling_cat"]["recognized"] == "tradosllm"


def test_serve_refuses_keyless_beyond_loopback(tmp_path):
    from tests.conftest import run_cli

    done = run_cli(["serve", "--host", "0.0.0.0", "--api-key", "k", "--keyless", "apertium"], timeout=120,
                   env_extra={"BAYLING_CAT_HOME": str(tmp_path)})
    assert done.returncode == 1 and "loopback" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_quotes_are_removed_only_when_the_model_added_them():
    """engines/base.py strip_added_quotes (issue 23, item 1): a quote the source opens or ends with is the
    source's own, kept; quotes the model wrapped around a source without any are removed."""
    from bayling_cat.engines.base import strip_added_quotes

    assert strip_added_quotes('"Wiederholen"', 'Retry"') == '"Wiederholen"'  # Weblate's split '"Cancel' / 'Retry"'
    assert strip_added_quotes('"Abbrechen"', '"Cancel') == '"Abbrechen"'
    assert strip_added_quotes('"Datei öffnen."', '"Open the file."') == '"Datei öffnen."'
    assert strip_added_quotes("„Hallo“", "„Hello“") == "„Hallo“"
    assert strip_added_quotes('"Hallo"', "Hello") == "Hallo"


def test_omegat_libretranslate_plugin_get_request(fake):
    """omegat-org/omegat-libre-translate LibreTranslate.java: HttpConnectionUtils.get(serverUrl, {q, source,
    target}) with getLanguageCode().toLowerCase(), no key, no format; getJsonResults reads translatedText. The
    server URL the user enters is the /translate address. OmegaT's tags are kept whole in text format."""
    client = create_app(fake, api_key="k3y", window=0.01, keyless=("libretranslate",)).test_client()
    text = "Open <f0>the file</f0> now<x1/>"
    r = client.get("/translate", query_string=[("q", text), ("source", "en"), ("target", "de")])
    assert r.status_code == 200, r.data
    assert r.get_json()["translatedText"] == f"[tr] {text}"
    assert "<f0>" not in fake.conversations[-1][-1].content  # the model saw placeholders, not OmegaT's tags
    r = client.get("/translate", query_string=[("q", "x"), ("source", "en"), ("target", "xx-YY")])
    assert r.status_code == 400 and set(r.get_json()) == {"error"}  # LibreTranslate's error shape


# -- Anthropic's Messages API: Weblate 5.16+ and the inertia42 plugin's Claude models ------------------------

def test_weblate_anthropic_machinery(fake):
    """weblate/machinery/anthropic.py (5.16+) fetch_llm_translations: POST urljoin(base_url, "/v1/messages")
    with x-api-key and anthropic-version headers, {"model", "max_tokens", "system": the LLM prompt,
    "messages": [example user, example assistant, the JSON payload]}; it reads content[0].text."""
    client = create_app(fake, api_key="k3y", window=0.01).test_client()
    payload = {"source_language": "en", "target_language": "de", "glossary": [],
               "strings": [{"source": "Save @@PH1@@ files", "parts": [{"type": "text", "text": "Save "}, {
                   "type": "placeholder", "id": "@@PH1@@", "kind": "syntax", "text": "", "translatable": False},
                   {"type": "text", "text": " files"}]}, {"source": '"Quoted"'}]}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 4096,
            "system": "\nYou are a professional translation engine specialized in structured localization tasks.\n",
            "messages": [{"role": "user", "content": '{"source_language":"en","target_language":"cs","units":[]}'},
                         {"role": "assistant", "content": '["Weblate"]'},
                         {"role": "user", "content": json.dumps(payload)}]}
    headers = {"x-api-key": "k3y", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    r = client.post("/v1/messages", json=body, headers=headers)
    assert r.status_code == 200, r.data
    reply = r.get_json()
    assert json.loads(reply["content"][0]["text"]) == ["[tr] Save @@PH1@@ files", '[tr] "Quoted"']
    assert reply["type"] == "message" and reply["stop_reason"] == "end_turn"
    assert reply["bayling_cat"]["recognized"] == "weblate-json"
    r = client.post("/v1/messages", json=body, headers={"x-api-key": "wrong"})
    assert r.status_code == 401 and r.get_json()["error"]["type"] == "authentication_error"


def test_omegat_openaitrans_claude_models(client):
    """OpenaiTranslate.java (inertia42), provider Claude: url + "/v1/messages", {"model", "max_tokens": 4096,
    "system": prompt, "messages": [{"role": "user", "content": text}], "temperature"}; reads content[0].text."""
    r = client.post("/v1/messages", json={"model": "claude-3-5-sonnet", "max_tokens": 4096, "temperature": 0.0,
                                          "system": "Please translate the following text from EN-US to ZH-CN.",
                                          "messages": [{"role": "user", "content": "Save <b0>all</b0>"}]})
    assert r.status_code == 200, r.data
    assert r.get_json()["content"][0]["text"] == "[tr] Save <b0>all</b0>"


def test_anthropic_errors_and_chat(client):
    for body in ({"model": "m", "messages": []}, {"model": "m", "max_tokens": 10},
                 {"model": "m", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "x"}]},
                 {"model": "m", "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]}):
        r = client.post("/v1/messages", json=body)
        assert r.status_code == 400 and r.get_json()["type"] == "error", body
    r = client.post("/v1/messages", json={"model": "m", "max_tokens": 3, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "one two three four five"}]}]})
    reply = r.get_json()
    assert reply["content"][0]["text"] == "[tr] one two" and reply["stop_reason"] == "max_tokens"
    assert reply["bayling_cat"]["recognized"] == "chat"


def test_libretranslate_alternatives_from_the_real_engine(keyless_server):
    """The engine's own sampling gives the alternatives (the tiny random model: its words do not matter, the
    form does): whole strings, each different from the main translation and from each other."""
    import urllib.request

    req = urllib.request.Request(keyless_server + "translate", method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({"q": "Save the file.", "source": "en", "target": "de",
                                                              "alternatives": 3}).encode())
    with urllib.request.urlopen(req, timeout=120) as r:
        answer = json.loads(r.read())
    alternatives = answer["alternatives"]
    assert 1 <= len(alternatives) <= 3 and all(isinstance(a, str) and a.strip() for a in alternatives)
    assert len(set(alternatives + [answer["translatedText"]])) == len(alternatives) + 1


PLACEHOLDER_KINDS = [
    ("Weblate 5.10+", "Save @@PH1@@ files"), ("Weblate before 5.10, LibreTranslate", "Open [X12X] now"),
    ("TradosLLM", "Open [[1]]the file[[2]]"), ("OmegaT", "Open <f0>the file</f0> and <x1/>"),
    ("memoQ", 'Click <inline_tag id="0">Save</inline_tag> now'),
    ("XLIFF-style", 'Press <x id="1"/> or <g id="2">here</g>'),
    ("printf", "Delete %1$s of %d items (%.2f%%)"), ("braces", "Hello {0}, {name} has {{count}} files"),
    ("entity", "Fish &amp; chips"),
]


@pytest.mark.parametrize("kind,text", PLACEHOLDER_KINDS, ids=[k for k, _ in PLACEHOLDER_KINDS])
def test_every_placeholder_kind_round_trips(kind, text):
    """Each plugin's placeholders: passed through byte for byte by a model that copies them, and put back by
    the repair when the model drops every one of them."""
    copying = create_app(FakeEngine(echo), window=0.01).test_client()
    messages = [{"role": "system", "content": "Translate from English to German."}, {"role": "user", "content": text}]
    assert openai_content(post(copying, {"model": "m", "messages": messages})) == f"[tr] {text}"
    dropping = create_app(FakeEngine(lambda conv: "Übersetzt ohne Platzhalter"), window=0.01).test_client()
    reply = post(dropping, {"model": "m", "messages": messages})
    out = openai_content(reply)
    codes = re.findall(r"@@PH\d+@@|\[X\d+X\]|\[\[\d+\]\]|</?[\w:-]+(?:\s[^<>]*)?/?>|%(?:\d\$)?[-.\d]*[sdf%]|"
                       r"\{\{\w+\}\}|\{\w+\}|&\w+;", text)
    assert codes and all(out.count(c) == text.count(c) for c in codes), (kind, out)
    # translate-toolkit's checks flag some answers (printf's "%%"), as every machine translation is checked
    assert reply["bayling_cat"]["flags"][0][0] == "codes-repaired"
