"""Which language a text is in: LibreTranslate's /detect and ``source: "auto"``, DeepL without ``source_lang``,
and a file that names no source language (a DOCX).

The library is ``py3langid`` (langid.py's model, 97 languages, a 4.5 MB model in the package itself: nothing is
downloaded). ``python bench/langid.py`` measured it against ``lingua-language-detector`` on 4,311 short UI
strings of the corpus in 10 languages (docs/server.md has the table): lingua's high-accuracy mode got 68.5 %
right against 61.6 %, but takes 2.4 s to load and 1 GB of memory in the server's process; its low-accuracy
mode (55.9 %) is worse than py3langid. py3langid loads in 0.7 s, adds about 130 MB (numpy included) and
answers in 0.04 ms. Short strings are hard for every library, so a guess comes with its confidence and a
caller that must be sure asks for ``min_confidence``.
"""

from __future__ import annotations

import re
import threading

from bayling_cat import languages
from bayling_cat.errors import UserError

MAX_CHARS = 4000  # what is read of a text (or of a document's segments): enough to tell, and bounded
_LOCK = threading.Lock()
_IDENTIFIER = None
_MARKUP = re.compile(r"<[^<>]{0,200}>|\{[^{}]{0,40}\}|%\d*\$?[sdif@]|&\w{1,10};|\[X\d{1,9}X\]|@@PH\d{1,9}@@")


def _identifier():
    global _IDENTIFIER
    with _LOCK:
        if _IDENTIFIER is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _IDENTIFIER


def ranked(text: str, limit: int = 3) -> list[tuple[str, float]]:
    """The likeliest languages of ``text`` as (code, confidence 0..1), best first; [] when it holds no letters."""
    sample = " ".join(_MARKUP.sub(" ", text[:MAX_CHARS]).split())
    if not re.search(r"[^\W\d_]", sample):
        return []
    out = []
    for code, probability in _identifier().rank(sample)[:limit]:
        try:
            out.append((languages.normalize(code), float(probability)))
        except UserError:
            continue
    return out


def detect(text: str) -> tuple[str, float] | None:
    """The likeliest language of ``text`` and its confidence, or None for a text without letters."""
    found = ranked(text, 1)
    return found[0] if found else None


def detect_document(path, connector, say) -> str | None:
    """The source language of a file that names none, from its segments' text; ``say`` tells the user what was
    detected (and how to override it). None when the text says nothing (no letters)."""
    texts, size = [], 0
    for segment in connector.segments():
        if size >= MAX_CHARS:
            break
        texts.append(segment.source)
        size += len(segment.source)
    found = detect("\n".join(texts))
    if found is None:
        return None
    code, confidence = found
    say(f"bayling-cat: {path}: the file names no source language; detected {languages.name(code)} ({code}) "
        f"from its text, {confidence:.0%} sure (pass --source-lang to set it)")
    return code
