"""A stand-in for the engine where a test must know exactly what the model answered."""

from bayling_cat.engines.base import BaseEngine, DecodingOptions, Generation


class ScriptedTranslator(BaseEngine):
    """Answers '[tgt] source' unless a script says otherwise; records every call."""

    decoding = DecodingOptions()

    def __init__(self, script=None, flags=None):
        self.script = script or {}
        self.flags = flags or {}
        self.calls = []

    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        self.calls.append((list(texts), source_lang, target_lang))
        self.hints = hints
        self.examples = examples
        out = [Generation(self.script.get(t, f"[{target_lang}] {t}"), list(self.flags.get(t, []))) for t in texts]
        if progress:
            progress(len(texts))
        return out


def echo(conv):
    """'[tr] ' + the text of the latest request (placeholders and all): the text is the last part of every
    request. The protocol and plugin tests answer every request with it."""
    return "[tr] " + conv[-1].content.rsplit("\n\n", 1)[-1]


class FakeEngine(BaseEngine):
    """Stands in for Engine where the terminology stage needs requests/generate: ``answer(conversation)``
    decides each reply; every conversation and ban list is recorded."""

    decoding = DecodingOptions()
    sessions = False  # BaseEngine's optional features, as an engine without them declares them

    def __init__(self, answer, template="chat"):
        from bayling_cat.templates import PromptTemplate

        self.answer = answer
        self.template = PromptTemplate(template, chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}")
        self.conversations = []
        self.examples = []
        self.suppressed = []
        self.batch_sizes = []
        self.delay = 0.0
        self.path = "fake-engine"

    def requests(self, texts, source_lang, target_lang, hints=None, terms=None, examples=None):
        """As the engines build them: each example pair from the memory as an earlier turn, then the request."""
        from bayling_cat import languages
        from bayling_cat.document import PLACEHOLDER
        from bayling_cat.templates import Message

        self.examples.append(examples)  # the memory's matches shown to the model, one list per text (or None)
        hints = hints or [None] * len(texts)
        terms = terms or [()] * len(texts)
        shots = examples or [()] * len(texts)

        def ask(t, h=None, tl=()):
            return Message("user", self.template.translation_request(
                t, languages.name(source_lang), languages.name(target_lang),
                [m.group(0) for m in PLACEHOLDER.finditer(t)], h, tl))

        out = []
        for t, h, tl, pairs in zip(texts, hints, terms, shots):
            turns = []
            for source, target in pairs:
                turns += [ask(source), Message("assistant", target)]
            out.append(turns + [ask(t, h, tl)])
        return out

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None,
                 session=None, cancel=None):
        if self.delay:
            import time

            time.sleep(self.delay)
        self.batch_sizes.append(len(conversations))
        self.conversations.extend([list(c) for c in conversations])
        self.suppressed.append(list(suppress_sequences))
        if progress:
            progress(len(conversations))
        return [Generation(self.answer(list(c)), [], -1.0 * len(c)) for c in conversations]

    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, terms=None, banned=(),
                  on_done=None, examples=None):
        return self.generate(self.requests(texts, source_lang, target_lang, hints, terms, examples), texts, banned,
                             progress)

    def banned_sequences(self, forms, keep=()):
        return [[f] for f in forms if f not in keep]

    def complete(self, source, prefix, source_lang, target_lang, alternatives=5, session=None, cancel=None):
        return f" rest of {source}", [f" word{i}" for i in range(alternatives)]

    def chat(self, messages, max_tokens=None, temperature=None, top_p=None, stop=(), on_text=None):
        """An ordinary chat turn: ``answer(conversation)`` streamed word by word, cut at a stop string or
        after ``max_tokens`` words."""
        from bayling_cat.engines.base import ChatTurn, StopScanner

        self.conversations.append(list(messages))
        words = self.answer(list(messages)).split(" ")
        scanner, text, finish = StopScanner(stop, on_text), "", "stop"
        for i, word in enumerate(words):
            if max_tokens is not None and i >= max_tokens:
                finish = "length"
                break
            text = f"{text} {word}" if i else word
            cut = scanner.feed(text)
            if cut is not None:
                text = cut
                break
        scanner.flush(text)
        return ChatTurn(text, finish, sum(len(m.content.split()) for m in messages), min(len(words), max_tokens or len(words)))
