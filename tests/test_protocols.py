"""The protocols CAT tools speak beyond bayling-cat's own: OpenAI chat completions (with translation-request
recognition), Apertium (OmegaT core), DeepL v3 and the newer /v2/translate fields, LibreTranslate placeables.

Requests are built as the real clients build them: Weblate's OpenAI machinery (its message layout: system
prompt, an example turn, then the JSON payload; or, before 5.10, strings joined by a separator line with the
glossary as TSV in the system prompt), Weblate's DeepL and LibreTranslate machinery, OmegaT's Apertium
connector (``{server}/translate?q=...&markUnknown=no&langpair=en|de&key=...``), and the openai and deepl SDKs
against a real server process.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from bayling_cat.server import create_app
from bayling_cat.server.recognize import WEBLATE_SEPARATOR, recognize
from tests.fakes import FakeEngine, echo


@pytest.fixture
def fake():
    return FakeEngine(echo)


@pytest.fixture
def client(fake):
    return create_app(fake, window=0.02).test_client()


def chat(client, messages, **extra):
    r = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": messages, **extra})
    assert r.status_code == 200, r.data
    return r.get_json()


def content(reply):
    return reply["choices"][0]["message"]["content"]


# -- Weblate's OpenAI machinery -------------------------------------------------------------------------------

def weblate_message(source_language, target_language, strings, glossary):
    """The JSON payload of Weblate's LLM machinery (5.10+): one object per string, placeables as @@PH<n>@@."""
    return json.dumps({"source_language": source_language, "target_language": target_language,
                       "glossary": glossary, "strings": strings})


def weblate_chat(strings, glossary, source="en", target="de"):
    system = ("You are a professional translation engine specialized in structured localization tasks.\n"
              "Input is provided as JSON ... Respond ONLY with a valid JSON array, one per input string.")
    example = weblate_message("en", "cs", [{"source": "@@PH1@@", "parts": [
        {"type": "placeholder", "id": "@@PH1@@", "kind": "syntax", "text": "", "translatable": False}]},
        {"source": "Weblate", "parts": [{"type": "text", "text": "Weblate"}]}], [])
    return [{"role": "system", "content": system}, {"role": "user", "content": example},
            {"role": "assistant", "content": json.dumps(["@@PH1@@", "Weblate"])},
            {"role": "user", "content": weblate_message(source, target, strings, glossary)}]


def test_weblate_json_form_one_translation_per_string_placeholders_kept(client, fake):
    strings = [{"source": "Save @@PH1@@ files", "parts": [{"type": "text", "text": "Save "}, {
        "type": "placeholder", "id": "@@PH1@@", "kind": "syntax", "text": "", "translatable": False},
        {"type": "text", "text": " files"}], "placeholders": {"@@PH1@@": "%d"}},
        {"source": "Open the folder."}, {"source": "  "}, {"source": "Hello, @@PH3@@!", "translation": "Hallo"},
        {"source": "@@PH1@@ <b>@@PH2@@</b>"}]
    glossary = [{"source": "folder", "target": "Ordner"}, {"source": "Weblate", "target": "Weblate",
                                                            "flags": ["read-only"]}]
    reply = chat(client, weblate_chat(strings, glossary), temperature=0)
    answer = json.loads(content(reply))
    assert answer == ["[tr] Save @@PH1@@ files", "[tr] Open the folder.", "  ", "[tr] Hello, @@PH3@@!",
                      "@@PH1@@ <b>@@PH2@@</b>"]  # codes only: no model call, the source as it is
    assert reply["bayling_cat"]["recognized"] == "weblate-json"
    assert reply["choices"][0]["finish_reason"] == "stop" and reply["usage"]["total_tokens"] > 0
    asked = [c[-1].content for c in fake.conversations]
    assert any("Use these glossary terms: folder = Ordner" in a for a in asked)  # the glossary is a constraint
    # BayLing's own translation prompt, not Weblate's; the glossary's revision turns come after it
    assert all(c[0].content.startswith("Translate the following English text into German") for c in fake.conversations)


def test_weblate_json_count_holds_whatever_the_model_answers(fake):
    # a model that answers a JSON array of its own, with more items than asked, or several lines
    for answer in ('["a", "b", "c"]', "first\nsecond\nthird", ""):
        engine = FakeEngine(lambda conv, a=answer: a)
        client = create_app(engine, window=0.01).test_client()
        strings = [{"source": f"String {i}"} for i in range(5)]
        out = json.loads(content(chat(client, weblate_chat(strings, []))))
        assert isinstance(out, list) and len(out) == 5


def test_weblate_json_older_glossary_object_and_bracket_placeables(client, fake):
    # Weblate 5.10-5.12: glossary as {source: target}, placeables as [X<n>X]
    message = json.dumps({"source_language": "en", "target_language": "sr@latin", "glossary": {"file": "fichier"},
                          "strings": [{"source": "Hello, [X2X], how are you?"}, {"source": "[X1X] file"}]})
    reply = chat(client, [{"role": "system", "content": "x"}, {"role": "user", "content": message}])
    assert json.loads(content(reply)) == ["[tr] Hello, [X2X], how are you?", "[tr] [X1X] file"]
    assert reply["bayling_cat"]["target_lang"] == "sr"
    assert any("file = fichier" in c[-1].content for c in fake.conversations)


def test_weblate_separator_form_before_5_10(client, fake):
    system = ("\nYou are a highly skilled translation assistant, adept at translating text\nfrom language 'en'\n"
              "to language 'de'\nwith precision and nuance.\n\nYou always reply with translated string only.\n"
              f"You receive an input as strings separated by {WEBLATE_SEPARATOR} and\nyour answer separates strings "
              f"by {WEBLATE_SEPARATOR}.\nYou treat strings like [X0X] or [X123X] as placeables for user input and "
              "keep them intact.\n\nUse the following glossary during the translation:\nfolder\tOrdner\nfile\tDatei\n")
    texts = ["Open the [X5X] folder", "Save the file"]
    reply = chat(client, [{"role": "system", "content": system},
                          {"role": "user", "content": WEBLATE_SEPARATOR.join(texts)}])
    assert content(reply).split(WEBLATE_SEPARATOR) == ["[tr] Open the [X5X] folder", "[tr] Save the file"]
    assert reply["bayling_cat"]["recognized"] == "weblate-separator"
    assert any("folder = Ordner" in c[-1].content for c in fake.conversations)


# -- prompt-per-segment plugins -------------------------------------------------------------------------------

SEGMENTS = ['Click <inline_tag id="0">Save</inline_tag> now.', 'Press <x id="1"/> to continue.',
            'Open <g id="2">the file</g> {1} times', "Delete %s items?", "Hello %1$s, you have {count} files."]


@pytest.mark.parametrize("segment", SEGMENTS)
@pytest.mark.parametrize("shape", ["system", "user-colon", "user-lines", "codes", "into", "fenced"])
def test_prompt_per_segment_tags_come_back_as_they_were(client, segment, shape):
    messages = {
        "system": [{"role": "system", "content": "You are a translator. Translate the following text from English to "
                                                 "German. Reply with the translation only."},
                   {"role": "user", "content": segment}],
        "user-colon": [{"role": "user", "content": f"Translate the following text from English to German: {segment}"}],
        "user-lines": [{"role": "user", "content": f"Translate from English to German. Keep it short.\n\n{segment}"}],
        "codes": [{"role": "user", "content": f"Please translate the following text from en to de:\n{segment}"}],
        "into": [{"role": "user", "content": f"Translate the following English text into German:\n\n{segment}"}],
        "fenced": [{"role": "system", "content": "Translate from 'en' to 'de'."},
                   {"role": "user", "content": f"```\n{segment}\n```"}],
    }[shape]
    reply = chat(client, messages)
    # a fenced segment is the segment: its fence comes back too (issue 23, item 1: byte for byte)
    assert content(reply) == (f"[tr] ```\n{segment}\n```" if shape == "fenced" else f"[tr] {segment}")
    assert reply["bayling_cat"]["recognized"] == "segment"
    assert (reply["bayling_cat"]["source_lang"], reply["bayling_cat"]["target_lang"]) == ("en", "de")


def test_a_glossary_in_an_omegat_plugin_system_prompt_is_applied(client, fake):
    system = ("You are a translation tool integrated in a CAT (Computer-Assisted Translation) tool. Translate the "
              "following text from EN to DE. Preserve the tags in the text and keep any segmentations intact.\n\n"
              "Glossary:\nfolder\tOrdner\nfile\tDatei\n\nUse a friendly tone.\n")
    reply = chat(client, [{"role": "system", "content": system}, {"role": "user", "content": "Open the <b0>folder</b0>"}])
    assert content(reply) == "[tr] Open the <b0>folder</b0>"
    assert "Use these glossary terms: folder = Ordner." in fake.conversations[0][0].content


def test_tags_the_model_drops_are_put_back():
    engine = FakeEngine(lambda conv: "Ohne Tags.")
    client = create_app(engine, window=0.01).test_client()
    reply = chat(client, [{"role": "system", "content": "Translate from English to German."},
                          {"role": "user", "content": 'Open <g id="2">the file</g> and <x id="1"/> {1} %s'}])
    text = content(reply)
    for tag in ('<g id="2">', "</g>", '<x id="1"/>', "{1}", "%s"):
        assert text.count(tag) == 1, text
    assert reply["bayling_cat"]["flags"] == [["codes-repaired"]]


@pytest.mark.parametrize("messages,expected", [
    ([{"role": "user", "content": "Translate from German to French: Guten Tag"}], ("de", "fr", "Guten Tag")),
    ([{"role": "user", "content": "Translate the text from language 'pt-BR' to language 'zh-Hans':\n\nOlá"}],
     ("pt-BR", "zh-Hans", "Olá")),
    ([{"role": "system", "content": "Translate into Japanese."}, {"role": "user", "content": "Good morning"}],
     ("en", "ja", "Good morning")),
    # the quotes are the segment's own: passed on byte for byte (issue 23, item 1)
    ([{"role": "user", "content": "Translate the following Spanish sentence to English: \"Hola amigo\""}],
     ("es", "en", '"Hola amigo"')),
    ([{"role": "system", "content": "Translate from English to Simplified Chinese."},
      {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "你好"},
      {"role": "user", "content": [{"type": "text", "text": "Goodbye"}]}], ("en", "zh-Hans", "Goodbye")),
    # an OmegaT plugin's default system prompt, with OmegaT's language codes
    ([{"role": "system", "content": "Please translate the following text from EN-US to ZH-CN."},
      {"role": "user", "content": "Hi"}], ("en-US", "zh-CN", "Hi")),
    # language names with a region, as Trados and memoQ name their languages: the region is kept (BCP 47)
    ([{"role": "user", "content": "Translate the following text from English (United States) to German (Germany). "
                                  "Return only the translation.\n\nHello"}], ("en-US", "de-DE", "Hello")),
    ([{"role": "user", "content": "Translate the following text from English to Portuguese (Brazil):\nHello"}],
     ("en", "pt-BR", "Hello")),
    ([{"role": "system", "content": "You are an assistant that translates French to English."},
      {"role": "user", "content": "Bonjour"}], ("fr", "en", "Bonjour")),
    ([{"role": "user", "content": "Translate it to German: Good night"}], ("en", "de", "Good night")),
])
def test_recognition_languages_and_segment(messages, expected):
    found = recognize(messages)
    assert (found.source_lang, found.target_lang, found.texts[0]) == expected


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Explain the term 'Feierabend' to a translator."}],
    [{"role": "user", "content": "How do I translate it into my language?"}],
    [{"role": "user", "content": "What does 'translate to the end' mean in this CSS?"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello"}],
])
def test_anything_else_is_an_ordinary_chat_turn(client, fake, messages):
    assert recognize(messages) is None
    reply = chat(client, messages)
    assert reply["bayling_cat"]["recognized"] == "chat"
    # the model's own template got the conversation as it was, not a translation request
    assert [m.content for m in fake.conversations[-1]] == [m["content"] for m in messages]
    assert content(reply) == "[tr] " + messages[-1]["content"]


def test_a_batch_as_a_json_array_keeps_its_count(client):
    batch = ['Save <inline_tag id="0">now</inline_tag>', "Cancel", "Open {1}"]
    reply = chat(client, [{"role": "system", "content": "Translate from English to German. The input is a JSON "
                                                        "array; answer with a JSON array."},
                          {"role": "user", "content": json.dumps(batch)}])
    assert json.loads(content(reply)) == [f"[tr] {t}" for t in batch]


def test_chat_options_stop_and_max_tokens(client):
    reply = chat(client, [{"role": "user", "content": "one two three four five six"}], max_tokens=3)
    assert content(reply) == "[tr] one two" and reply["choices"][0]["finish_reason"] == "length"
    reply = chat(client, [{"role": "user", "content": "one two three four"}], stop=["three"], temperature=0.5,
                 top_p=0.9, max_completion_tokens=50)
    assert content(reply) == "[tr] one two " and reply["choices"][0]["finish_reason"] == "stop"


def sse(response):
    lines = [line for line in response.get_data(as_text=True).split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_streaming_is_openais_chunk_format(client):
    r = client.post("/v1/chat/completions", json={"model": "m", "stream": True, "messages": [
        {"role": "user", "content": "tell me a story"}]})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    chunks = sse(r)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "[tr] tell me a story"
    assert len(chunks) > 3  # word by word, not one piece
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert "usage" not in chunks[0]
    r = client.post("/v1/chat/completions", json={"model": "m", "stream": True, "stream_options": {
        "include_usage": True}, "messages": [{"role": "system", "content": "Translate from English to German."},
                                             {"role": "user", "content": "Save <x id=\"1\"/>"}]})
    chunks = sse(r)
    assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == '[tr] Save <x id="1"/>'


@pytest.mark.parametrize("body,status", [
    ("{not json", 400),
    ({"model": "m"}, 400),
    ({"model": "m", "messages": []}, 400),
    ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, 400),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, 400),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, 400),
    ({"messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "temperature": 3, "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "max_tokens": "many", "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "stop": ["a", "b", "c", "d", "e"], "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "response_format": {"type": "xml"}, "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}, 400),
    ({"model": "m", "messages": [{"role": "user", "content": json.dumps({
        "source_language": "en", "target_language": "de", "strings": [{"source": "x"}] * 1001})}]}, 413),
    ({"model": "m", "messages": [{"role": "user", "content": json.dumps({
        "source_language": "en", "target_language": "xx", "strings": [{"source": "x"}]})}]}, 400),
])
def test_openai_errors_in_openais_shape(client, body, status):
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    r = client.post("/v1/chat/completions", **kwargs)
    assert r.status_code == status, r.data
    error = r.get_json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["type"] == "invalid_request_error"


def test_models_list_and_key(fake):
    client = create_app(fake, api_key="k").test_client()
    r = client.get("/v1/models", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_api_key"
    data = client.get("/v1/models", headers={"Authorization": "Bearer k"}).get_json()
    assert data["object"] == "list" and data["data"][0]["id"] == "fake-engine"
    assert data["data"][0]["object"] == "model" and data["models"][0]["loaded"] is True
    assert client.get("/v1/models/gpt-4o", headers={"Authorization": "Bearer k"}).get_json()["id"] == "gpt-4o"
    assert client.get("/v1/nothing", headers={"Authorization": "Bearer k"}).get_json()["error"]["code"] == 404


# -- Apertium (OmegaT core) -----------------------------------------------------------------------------------

def omegat_url(text, source, target, key=""):
    """OmegaT's ApertiumTranslate: "%s/translate?q=%s&markUnknown=no&langpair=%s|%s&key=%s", the text encoded
    with java.net.URLEncoder (spaces as '+')."""
    return f"/translate?q={urllib.parse.quote_plus(text)}&markUnknown=no&langpair={source}|{target}&key={key}"


@pytest.mark.parametrize("source,target,expected", [("en", "de", "de"), ("en_US", "pt_BR", "pt-BR"),
                                                    ("eng", "spa", "es"), ("ca_valencia", "en", "en"),
                                                    ("nob", "nno", "nn")])
def test_apertium_as_omegat_sends_it(client, fake, source, target, expected):
    r = client.get(omegat_url("Open <f0>the file</f0> now & then", source, target, "any"))
    assert r.get_json() == {"responseData": {"translatedText": "[tr] Open <f0>the file</f0> now & then"},
                            "responseDetails": None, "responseStatus": 200}
    assert fake.conversations[-1][-1].content.startswith("Translate the following ")
    from bayling_cat import languages
    assert f"into {languages.name(expected)}" in fake.conversations[-1][-1].content


def test_apertium_batch_pairs_post_and_errors(fake):
    client = create_app(fake, api_key="k3y", window=0.01).test_client()
    r = client.get("/translate?q=One&q=Two&langpair=en|de&key=k3y")
    assert r.get_json()["responseData"] == [{"translatedText": "[tr] One"}, {"translatedText": "[tr] Two"}]
    r = client.post("/translate", data={"q": "One", "langpair": "eng|deu", "key": "k3y"})  # APY's POST form
    assert r.get_json()["responseData"] == {"translatedText": "[tr] One"}
    pairs = client.get("/listPairs?key=k3y").get_json()
    assert {"sourceLanguage": "eng", "targetLanguage": "deu"} in pairs["responseData"]
    assert pairs["responseStatus"] == 200
    for url, status in [("/translate?q=x&langpair=en|de&key=bad", 403), ("/translate?q=x&key=k3y", 400),
                        ("/translate?q=x&langpair=ende&key=k3y", 400), ("/translate?q=x&langpair=xx|de&key=k3y", 400),
                        ("/translate?langpair=en|de&key=k3y", 400),
                        ("/translate?q=x&langpair=en|de&format=rtf&key=k3y", 400)]:
        r = client.get(url)
        body = r.get_json()
        assert r.status_code == status and body["responseStatus"] == status and body["responseDetails"], url
        assert body["responseData"] is None
    # the same path without langpair is LibreTranslate's, with LibreTranslate's error shape
    r = client.post("/translate", data={"q": "x", "source": "en", "target": "xx-YY-ZZ", "api_key": "k3y"})
    assert r.status_code == 400 and set(r.get_json()) == {"error"}
    r = client.post("/translate", data={"q": "x", "langpair": "en|xx-YY-ZZ", "key": "k3y"})
    assert r.status_code == 400 and r.get_json()["responseStatus"] == 400


# -- DeepL: newer fields on /v2/translate, v3 languages and glossaries ----------------------------------------

def test_deepl_formality_and_context_reach_the_request(client, fake):
    # as Weblate's DeepL machinery sends them (DE@FORMAL -> formality "more"; the project's context)
    r = client.post("/v2/translate", json={"text": ['Save <x id="3"></x> now'], "source_lang": "EN",
                                           "target_lang": "DE", "formality": "more", "tag_handling": "xml",
                                           "ignore_tags": ["x"], "context": "A button in a file dialog.",
                                           "model_type": "prefer_quality_optimized", "split_sentences": "nonewlines",
                                           "preserve_formatting": True})
    assert r.status_code == 200, r.data
    assert r.get_json()["translations"][0]["text"] == '[tr] Save <x id="3"></x> now'
    asked = fake.conversations[-1][-1].content
    assert "Use the formal form of address (Sie)." in asked
    assert asked.startswith("Context, for understanding only (do not translate it): A button in a file dialog.")
    client.post("/v2/translate", json={"text": ["Hi"], "target_lang": "FR", "formality": "prefer_less"})
    assert "informal form of address (tu)" in fake.conversations[-1][-1].content
    client.post("/v2/translate", json={"text": ["Hi"], "target_lang": "DE"})
    assert "form of address" not in fake.conversations[-1][-1].content and "Context" not in \
        fake.conversations[-1][-1].content
    for bad in ({"formality": "very"}, {"context": 5}, {"split_sentences": "maybe"}, {"model_type": "fast"},
                {"glossary_ids": "x", "source_lang": "EN"}):
        r = client.post("/v2/translate", json={"text": ["Hi"], "target_lang": "DE", **bad})
        assert r.status_code in (400, 404) and set(r.get_json()) == {"message"}, bad


def test_deepl_v3_languages(client):
    langs = client.get("/v3/languages?resource=translate_text").get_json()
    de = next(entry for entry in langs if entry["lang"] == "de")
    assert de["usable_as_source"] and de["usable_as_target"] and "formality" in de["features"]
    assert {"lang": "en-GB", "usable_as_source": False}.items() <= next(
        entry for entry in langs if entry["lang"] == "en-GB").items()
    assert all(entry["usable_as_target"] for entry in client.get("/v3/languages?resource=glossary").get_json())
    r = client.get("/v3/languages")
    assert r.status_code == 400 and "message" in r.get_json()


def test_deepl_v3_glossary_lifecycle(client, fake):
    r = client.post("/v3/glossaries", json={"name": "UI", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": "file\tDatei\nfolder\tOrdner", "entries_format": "tsv"},
        {"source_lang": "EN", "target_lang": "FR", "entries": '"file, data",fichier\nfolder,dossier',
         "entries_format": "csv"}]})
    assert r.status_code == 201, r.data
    info = r.get_json()
    gid = info["glossary_id"]
    assert info["dictionaries"] == [{"source_lang": "en", "target_lang": "de", "entry_count": 2},
                                    {"source_lang": "en", "target_lang": "fr", "entry_count": 2}]
    # glossary_id on /v2/translate applies the dictionary of the request's language pair
    client.post("/v2/translate", json={"text": ["Open the folder."], "source_lang": "EN", "target_lang": "FR",
                                       "glossary_id": gid})
    assert any("folder = dossier" in c[0].content for c in fake.conversations)
    fake.conversations.clear()
    client.post("/v2/translate", json={"text": ["Open the folder."], "source_lang": "EN", "target_lang": "DE",
                                       "glossary_ids": [gid]})
    assert any("folder = Ordner" in c[0].content for c in fake.conversations)
    r = client.post("/v2/translate", json={"text": ["x"], "source_lang": "EN", "target_lang": "IT",
                                           "glossary_id": gid})
    assert r.status_code == 400
    r = client.patch(f"/v3/glossaries/{gid}", json={"name": "UI 2", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": "file\tAkte\nsave\tspeichern", "entries_format": "tsv"}]})
    assert r.get_json()["name"] == "UI 2" and r.get_json()["dictionaries"][0]["entry_count"] == 3
    entries = client.get(f"/v3/glossaries/{gid}/entries?source_lang=en&target_lang=de").get_json()
    assert entries["dictionaries"][0]["entries"].split("\n") == ["file\tAkte", "folder\tOrdner", "save\tspeichern"]
    r = client.put(f"/v3/glossaries/{gid}/dictionaries", json={"source_lang": "en", "target_lang": "de",
                                                               "entries": "tab\tReiter", "entries_format": "tsv"})
    assert r.get_json() == {"source_lang": "en", "target_lang": "de", "entry_count": 1}
    assert client.delete(f"/v3/glossaries/{gid}/dictionaries?source_lang=en&target_lang=fr").status_code == 204
    assert [d["target_lang"] for d in client.get(f"/v3/glossaries/{gid}").get_json()["dictionaries"]] == ["de"]
    assert client.get("/v2/glossaries").get_json()["glossaries"][0]["entry_count"] == 1  # v2 sees it too
    assert client.delete(f"/v3/glossaries/{gid}").status_code == 204
    assert client.get(f"/v3/glossaries/{gid}").status_code == 404
    for bad in ({"name": "x"}, {"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": "de"}]},
                {"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": "a\tb\na\tc"}]},
                {"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": "xx-YY-ZZ", "entries": "a\tb"}]},
                {"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": "a\tb",
                                                "entries_format": "xlsx"}]}):
        r = client.post("/v3/glossaries", json=bad)
        assert r.status_code == 400 and set(r.get_json()) == {"message"}, bad


# -- LibreTranslate as Weblate sends it -----------------------------------------------------------------------

def test_libretranslate_weblate_placeables_kept_whole():
    # a model that mangles brackets: Weblate's placeables survive only because the model never sees them
    engine = FakeEngine(lambda conv: echo(conv).replace("[", "(").replace("]", ")").replace("(tr)", "[tr]"))
    client = create_app(engine, window=0.01).test_client()
    texts = ["Hello [X6X] world", "[X0X] of [X12X] files"]
    r = client.post("/translate", json={"api_key": "", "q": texts, "source": "en", "target": "de"})
    # "[tr] " fails translate-toolkit's brackets check: flagged "qa", as translate flags it in a file
    assert r.get_json() == {"translatedText": [f"[tr] {t}" for t in texts], "flags": [["qa"], ["qa"]]}
    r = client.post("/translate", json={"q": "<b>Hi</b> [X3X]", "source": "en", "target": "de", "format": "html"})
    assert r.get_json() == {"translatedText": "[tr] <b>Hi</b> [X3X]", "flags": ["qa"]}


# -- real clients against a real server process ----------------------------------------------------------------

def start(model, home, *args):
    env = dict(os.environ, BAYLING_CAT_HOME=str(home), BAYLING_CAT_MODEL=str(model))
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0", *args],
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        m = re.search(r"serving on (http://\S+/)", proc.stderr.readline())
        if m:
            return m.group(1), proc
    proc.kill()
    pytest.fail("the server did not start")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    url, proc = start(tiny_model, tmp_path_factory.mktemp("home"), "--api-key", "k3y")
    yield url
    proc.terminate()
    proc.wait(30)


def test_openai_sdk(server):
    import openai

    client = openai.OpenAI(base_url=server + "v1", api_key="k3y", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny"]
    reply = client.chat.completions.create(model="gpt-4o", temperature=0, messages=[
        {"role": "system", "content": "Translate the following text from English to German."},
        {"role": "user", "content": 'Click <x id="1"/> to save {1}.'}])
    text = reply.choices[0].message.content
    cut = any("length-limit" in f for f in reply.model_extra["bayling_cat"]["flags"])
    # the random tiny model often runs to the generation limit: then finish_reason says so (issue 23, item 2)
    assert '<x id="1"/>' in text and "{1}" in text and reply.choices[0].finish_reason == ("length" if cut else "stop")
    assert reply.model == "tiny" and reply.usage.total_tokens > 0
    stream = client.chat.completions.create(model="gpt-4o", stream=True, max_tokens=12, temperature=0.7,
                                            messages=[{"role": "user", "content": "Tell me about glossaries."}],
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason in ("stop", "length") and chunks[-1].usage.completion_tokens <= 12
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server + "v1", api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", n=2, messages=[{"role": "user", "content": "x"}])


def test_weblate_json_over_http_keeps_count(server):
    strings = [{"source": f"Segment {i} with @@PH{i}@@ inside"} for i in range(7)]
    req = urllib.request.Request(server + "v1/chat/completions", method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer k3y"},
        data=json.dumps({"model": "custom", "temperature": 0, "messages": weblate_chat(strings, [])}).encode())
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(json.loads(r.read())["choices"][0]["message"]["content"])
    assert len(out) == 7 and all(f"@@PH{i}@@" in t for i, t in enumerate(out))


def test_omegat_apertium_over_http(server):
    with urllib.request.urlopen(server.rstrip("/") + omegat_url("Save <b0>the</b0> file", "en", "de", "k3y"),
                                timeout=60) as r:
        data = json.loads(r.read())
    assert data["responseStatus"] == 200 and "<b0>" in data["responseData"]["translatedText"]


def test_deepl_sdk_multilingual_glossaries(server):
    import deepl
    from deepl.api_data import MultilingualGlossaryDictionaryEntries

    client = deepl.DeepLClient("k3y", server_url=server.rstrip("/"))
    glossary = client.create_multilingual_glossary("UI", [
        MultilingualGlossaryDictionaryEntries("EN", "DE", {"file": "Datei", "folder": "Ordner"}),
        MultilingualGlossaryDictionaryEntries("EN", "FR", {"file": "fichier"})])
    assert [(d.source_lang, d.target_lang, d.entry_count) for d in glossary.dictionaries] == \
        [("EN", "DE", 2), ("EN", "FR", 1)]
    assert [g.glossary_id for g in client.list_multilingual_glossaries()] == [glossary.glossary_id]
    entries = client.get_multilingual_glossary_entries(glossary, "EN", "DE").dictionaries[0]
    assert entries.entries.split("\n") == ["file\tDatei", "folder\tOrdner"]
    replaced = client.replace_multilingual_glossary_dictionary(
        glossary, MultilingualGlossaryDictionaryEntries("EN", "DE", {"save": "speichern"}))
    assert replaced.entry_count == 1
    updated = client.update_multilingual_glossary_dictionary(
        glossary, MultilingualGlossaryDictionaryEntries("EN", "FR", {"folder": "dossier"}))
    assert [d.entry_count for d in updated.dictionaries] == [1, 2]
    assert client.update_multilingual_glossary_name(glossary, "UI v2").name == "UI v2"
    result = client.translate_text("Save the file.", source_lang="EN", target_lang="DE", glossary=glossary,
                                   formality="prefer_more", context="A menu item.")
    assert result.text.strip()
    client.delete_multilingual_glossary_dictionary(glossary, source_lang="EN", target_lang="FR")
    assert len(client.get_multilingual_glossary(glossary.glossary_id).dictionaries) == 1
    client.delete_multilingual_glossary(glossary)
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.get_multilingual_glossary(glossary.glossary_id)


@pytest.mark.slow
def test_end_to_end_on_the_default_model(default_home):
    """The default model through the OpenAI protocol: Weblate's batch and a plugin's segment."""
    env = dict(os.environ, BAYLING_CAT_HOME=str(default_home))
    env.pop("BAYLING_CAT_MODEL", None)
    # the first start converts the default model (once per test session)
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0"], stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        url = None
        while url is None:
            line = proc.stderr.readline()
            assert line, "the server did not start"
            m = re.search(r"serving on (http://\S+/)", line)
            url = m.group(1) if m else None
        import openai

        client = openai.OpenAI(base_url=url + "v1", api_key="none", max_retries=0)
        strings = [{"source": "Save the file."}, {"source": "Delete @@PH1@@ items?"}, {"source": "Open"}]
        reply = client.chat.completions.create(model="custom", temperature=0, messages=weblate_chat(
            strings, [{"source": "file", "target": "Datei"}]))
        out = json.loads(reply.choices[0].message.content)
        assert len(out) == 3 and "@@PH1@@" in out[1] and all(t.strip() for t in out)
        reply = client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "system", "content": "Translate the following text from English to German."},
            {"role": "user", "content": "Press <x id=\"1\"/> to continue."}])
        assert '<x id="1"/>' in reply.choices[0].message.content
        # the default model is a base model: a chat turn that is not a translation is refused, OpenAI's way
        with pytest.raises(openai.BadRequestError, match="base model: it translates .* but does not chat"):
            client.chat.completions.create(model="gpt-4o", max_tokens=16, messages=[
                {"role": "user", "content": "What is a glossary?"}])
    finally:
        proc.terminate()
        proc.wait(60)


def test_engine_chat_turn_streams_and_stops_at_a_stop_string(tiny_model):
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.templates import Message

    engine = Engine(tiny_model, device="cpu")
    pieces = []
    full = engine.chat([Message("user", "Hello there")], max_tokens=24, on_text=pieces.append)
    assert "".join(pieces) == full.text and 0 < full.completion_tokens <= 24 and full.prompt_tokens > 0
    middle = len(full.text) // 2
    stop = full.text[middle:middle + 3]
    pieces.clear()
    cut = engine.chat([Message("user", "Hello there")], max_tokens=24, stop=[stop], on_text=pieces.append)
    assert cut.text == full.text[:full.text.index(stop)] and cut.finish_reason == "stop"
    assert "".join(pieces) == cut.text  # nothing past the stop string was streamed
