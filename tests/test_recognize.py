"""Recognition of translation requests (bayling_cat/server/recognize.py), language names (langnames), language
identification (langid), and the linear-time guarantee of every pattern that sees user text."""

import json
import time

import pytest

from bayling_cat import langid, langnames, languages
from bayling_cat.server import recognize as rec
from bayling_cat.server.recognize import SHAPES, UnknownLanguage, recognize


def user(text):
    return [{"role": "user", "content": text}]


def system_user(system, text):
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


# -- language names and codes -> BCP 47 (issue 23, items 3 and 6) ---------------------------------------------

@pytest.mark.parametrize("written,expected", [
    ("Chinese (Traditional)", "zh-Hant"), ("Chinese (Simplified)", "zh-Hans"), ("German (Switzerland)", "de-CH"),
    ("Klingon", "tlh"), ("Chinese (Taiwan)", "zh-TW"), ("Chinese (Hong Kong S.A.R.)", "zh-HK"),
    ("Arabic (U.A.E.)", "ar-AE"), ("Norwegian (Bokmål)", "nb"), ("Serbian (Latin)", "sr-Latn"),
    ("Spanish (Latin America)", "es-419"), ("English (United States)", "en-US"), ("Portuguese (Brazil)", "pt-BR"),
    ("Brazilian Portuguese", "pt-BR"), ("Simplified Chinese", "zh-Hans"), ("Traditional Chinese", "zh-Hant"),
    ("中文", "zh"), ("英语", "en"), ("繁体中文", "zh-Hant"), ("德语", "de"), ("Deutsch", "de"), ("français", "fr"),
    ("EN-US", "en-US"), ("zh_CN", "zh-CN"), ("pt-BR", "pt-BR"), ("nob", "nb"), ("tlh", "tlh"),
])
def test_language_names_and_codes_map_to_bcp47(written, expected):
    assert langnames.canonical(written) == expected


@pytest.mark.parametrize("written", ["xx-YY", "xx", "Foo", "the following", ""])
def test_names_that_are_no_language(written):
    assert langnames.canonical(written) is None


def test_a_language_only_cldr_names_is_accepted_and_named():
    assert languages.normalize("tlh") == "tlh" and languages.name("tlh") == "Klingon"
    # three-letter and deprecated codes become the code everything else compares with
    assert [languages.normalize(c) for c in ("deu", "ger", "nob", "iw", "zho-TW")] == ["de", "de", "nb", "he", "zh-TW"]
    with pytest.raises(Exception):
        languages.normalize("xx")


# -- instructions in English and Chinese, the source named anywhere (items 3, 10) ----------------------------

@pytest.mark.parametrize("messages,expected", [
    (user("请将下面的英语文本翻译成中文。\nOpen the file."), ("en", "zh", ["Open the file."])),
    (user("将以下文本从英文翻译成德文：\nSave"), ("en", "de", ["Save"])),
    (user("把下面的句子翻译成日语：你好"), (None, "ja", ["你好"])),
    (user("次の文章を英語から日本語に翻訳してください：\nOpen the file"), ("en", "ja", ["Open the file"])),
    (user("日本語に翻訳してください。\nGood morning"), (None, "ja", ["Good morning"])),
    # memoQ Multi-Supplier with a Chinese prompt template and memoQ's own language names
    (user("将以下文本从English (United States)翻译成Chinese (Taiwan)：\r\nOpen the file"),
     ("en-US", "zh-TW", ["Open the file"])),
    (user("Translate the following text into Klingon: Good morning"), (None, "tlh", ["Good morning"])),
    (user("Translate a sentence in FR into DE: Bonjour tout le monde"), ("fr", "de", ["Bonjour tout le monde"])),
    (user("Translate the following Spanish sentence to English: \"Hola amigo\""),
     ("es", "en", ['"Hola amigo"'])),  # the quotes are the segment's own: passed on
    (user("Translate the following text from English to Chinese (Traditional):\nOpen"),
     ("en", "zh-Hant", ["Open"])),
    (user("Translate the following text from English to German (Switzerland): \r\nStreet"),
     ("en", "de-CH", ["Street"])),
    (system_user("Translate from 'en' to 'pt-BR'.", "  leading and trailing space  "),
     ("en", "pt-BR", ["  leading and trailing space  "])),
    (system_user("Translate from English to German.", "```\ncode fence\n```"), ("en", "de", ["```\ncode fence\n```"])),
])
def test_instruction_languages_and_segment(messages, expected):
    found = recognize(messages)
    src, tgt, texts = expected
    assert (found.target_lang, found.texts) == (tgt, texts)
    if src is not None:
        assert found.source_lang == src and not found.source_detected
    else:
        assert found.source_detected


def test_an_unknown_code_in_an_instruction_is_the_clients_error_not_a_chat():
    with pytest.raises(UnknownLanguage, match="xx-YY"):
        recognize(user("Translate the following text into xx-YY: hello"))
    with pytest.raises(UnknownLanguage):
        recognize(user("Translate from English to xx-YY: hello"))


def test_a_source_named_nowhere_is_detected_from_the_text_when_sure():
    found = recognize(system_user("Translate into English.", "Guten Tag, wie geht es Ihnen heute? Ich hoffe gut."))
    assert (found.source_lang, found.source_detected) == ("de", True)
    found = recognize(system_user("Translate into German.", "Hello"))  # one word: too short to be sure
    assert found.source_lang == "en"


def test_a_blank_segment_with_an_instruction_is_a_translation_request():
    found = recognize(user("Translate from English to German:"))
    assert found.texts == [""] and found.answer([""]) == ""


@pytest.mark.parametrize("messages", [
    user("Explain the term 'Feierabend' to a translator."), user("How do I translate it into my language?"),
    user("What does 'translate to the end' mean in this CSS?"),
    system_user("You are a helpful assistant.", "Hello"),
    user('{"source_language": "en", "target_language": "cs", "units": [{"unit_id": 1}]}'),  # Weblate's evaluation
    user("请翻译 API 文档"), user("How do I translate my app to API level 33?"),
    system_user("You translate documentation into the REST API style.", "Hello"),
])
def test_not_translation_requests(messages):
    assert recognize(messages) is None


def test_batches_keep_their_form_and_keys():
    memoq = ("Translate the following JSON from English to Chinese (Taiwan). \r\nReturn a valid JSON object with "
             'the same keys and the translated sentences as values: \r\n{"1":"Open","2":"Close"}')
    found = recognize(system_user("You are a professional translator using CAT tools. \r\n", memoq))
    assert (found.kind, found.shape, found.target_lang, found.texts) == \
        ("json-object", "memoq-multi-supplier-batch", "zh-TW", ["Open", "Close"])
    assert json.loads(found.answer(["開啟", "關閉"])) == {"1": "開啟", "2": "關閉"}
    longer = recognize(system_user("Translate from English to German.", '{"texts":[{"id":1,"text":"A"},'
                                                                         '{"id":2,"text":"B"}]}'))
    assert longer.kind == "json-texts" and json.loads(longer.answer(["a", "b"])) == \
        {"texts": [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]}


def test_glossary_lines_of_every_form():
    system = ("Translate from English to German.\n\nGlossary:\nfolder\tOrdner\nsrc: file, loc: Datei, comment: a "
              "document\nsave = speichern\nWeblate -> Weblate\n\nBe brief.")
    assert rec.glossary_lines(system) == [("folder", "Ordner", "preferred"), ("file", "Datei", "preferred"),
                                          ("save", "speichern", "preferred"), ("Weblate", "Weblate", "dnt")]


def test_every_shape_names_its_plugin_and_source():
    for shape in SHAPES:
        assert shape.id and shape.plugin and shape.answer in ("segment", "separator", "json-array", "json-object",
                                                              "json-texts")
        if shape.signature:
            assert shape.source and shape.versions


# -- language identification ----------------------------------------------------------------------------------

def test_language_identification():
    assert langid.detect("Ceci est une phrase française assez longue.")[0] == "fr"
    assert langid.detect("打开文件并保存更改")[0] == "zh"
    assert langid.detect("  123 <b/> {0} ") is None
    ranked = langid.ranked("Guten Tag, wie geht es Ihnen heute?", 3)
    assert ranked[0][0] == "de" and 0 < ranked[0][1] <= 1 and len(ranked) == 3


# -- linear time: every pattern that sees user text (issue 25, item 1) ----------------------------------------

def adversarial(n):
    """Inputs of n characters built from the metacharacters and keywords of the recognition patterns: runs of
    newlines and spaces after 'translate', unclosed quotes and parentheses, 'from'/'to' chains, colons, CJK
    runs ending in 语, JSON brackets, glossary separators."""
    units = ["\n", " ", "translate ", "Translate the following text from ", "to ", "from English ", "'", "(", ".",
             ":", "翻译成", "英语", "[", "{", "\t", " = ", "src: a, loc: ", "Please translate ", "in FR ", "@@PH",
             "[[1", "%1$", "\r\n"]
    out = []
    for unit in units:
        out.append((unit * (n // len(unit) + 1))[:n])
    mixed = "".join(units)
    out.append((mixed * (n // len(mixed) + 1))[:n])
    out.append("Translate " + "x" * (n - 20) + " into German")
    out.append(("Translate from English to German.\n" + "more:\n" * n)[:n])  # instruction lines ending in ':'
    return out


def _time(text, where):
    messages = user(text) if where == "user" else system_user(text, "x")
    started = time.perf_counter()
    try:
        recognize(messages)
    except UnknownLanguage:
        pass
    return time.perf_counter() - started


@pytest.mark.parametrize("where", ["user", "system"])
def test_recognition_is_linear_on_adversarial_input(where):
    # a quadratic pattern took 37 s at 16,000 newlines; 10^5 characters must take well under a second each
    # (bounded generously: the machine is shared), and 10x the input must not take 30x the time
    langid.detect("The identifier's model is loaded once (about a second): not part of any timing")
    for small, large in zip(adversarial(10_000), adversarial(100_000)):
        t_large = _time(large, where)
        assert t_large < 3.0, (large[:40], t_large)
        t_small = _time(small, where)
        assert t_large < 30 * t_small + 0.3, (large[:40], t_small, t_large)


def test_json_nesting_is_not_a_recursion_error():
    assert recognize(user("[" * 100_000)) is None
    assert recognize(system_user("Translate from English to German.", "[" * 100_000)).texts == ["[" * 100_000]
