"""A stand-in for the engine where a test must know exactly what the model answered."""

from bayling_cat.engine import Generation


class ScriptedTranslator:
    """Answers '[tgt] source' unless a script says otherwise; records every call."""

    def __init__(self, script=None, flags=None):
        self.script = script or {}
        self.flags = flags or {}
        self.calls = []

    def translate(self, texts, source_lang, target_lang, progress=None, hints=None):
        self.calls.append((list(texts), source_lang, target_lang))
        self.hints = hints
        out = [Generation(self.script.get(t, f"[{target_lang}] {t}"), list(self.flags.get(t, []))) for t in texts]
        if progress:
            progress(len(texts))
        return out
