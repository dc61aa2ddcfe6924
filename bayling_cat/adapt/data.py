"""What ``bayling-cat adapt`` learns from, and the prompts it learns on (no torch here).

The pairs are the user's approved work, read by the reader ``evaluate`` uses (TMX, approved XLIFF, non-fuzzy
PO; the same placeholders for inline codes) and, with ``--memory``, the memory's human units. A held-out part
is set aside before anything is trained (no source of it is trained on).

Each training prompt is made by the engine's own request code on the base model (``BaseEngine.requests``,
the template's ``render`` and the engine's ``encode_prompt``): what the adapted model sees in training is
token for token what it is asked at run time. A pair gets, as the memory would give it at run time, the best
two human matches of its source among the other training pairs (fuzzy, at the core's threshold, found by the
memory's own ``similar``) and, with ``--glossary``, the glossary's terms and do-not-translate placeholders
(``revision.steering``).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat.errors import UserError


@dataclass
class Pair:
    source: str  # inline codes as placeholders (<1>, </1>, <2/>), as the engine gets it
    target: str
    hint: str | None = None
    origin: str = ""
    codes: dict = field(default_factory=dict)


@dataclass
class Data:
    train: list[Pair]
    held_out: list[Pair]
    source_lang: str
    target_lang: str
    files: list[dict]
    read: int  # approved pairs read
    duplicates: int  # pairs left out because their source (and hint) came earlier
    sha256: str  # of the training and held-out pairs, in order: what the metadata names


def default_held_out(n: int) -> int:
    """5 % of the pairs, but a tenth of them up to 50 (1,000 pairs: 50; 300: 30; 4,000: 200), at least one."""
    return max(1, math.ceil(0.05 * n), min(50, n // 10)) if n > 1 else 0


def read_pairs(references: list[str], memory_location: str | None, source_lang: str, target_lang: str,
               held_out: int | None, seed: int = 1) -> Data:
    """Every approved pair for the language pair, one per distinct (source, hint), split into training and
    held-out pairs (a reproducible draw; every pair of one source, whatever its hint, on the same side)."""
    from bayling_cat import languages
    from bayling_cat.evaluate import references as reader

    source_lang = languages.normalize(source_lang) if source_lang else None
    target_lang = languages.normalize(target_lang) if target_lang else None
    pairs: list[Pair] = []
    files: list[dict] = []
    if references:
        refs = reader.read(references, source_lang, target_lang)
        source_lang, target_lang = refs.source_lang, refs.target_lang
        pairs += [Pair(r.source, r.reference, r.hint, r.origin, r.codes) for r in refs.references]
        files += refs.files
    if memory_location is not None:
        found = _memory_pairs(memory_location, source_lang, target_lang)
        pairs += found
        files.append({"path": _shown(memory_location), "format": "memory", "approved": len(found)})
    seen, unique = set(), []
    for p in pairs:
        key = (p.source.strip(), p.hint)
        if key not in seen and p.source.strip() and p.target.strip():
            seen.add(key)
            unique.append(p)
    if len(unique) < 2:
        raise UserError(f"{len(unique)} approved pair{'s' if len(unique) != 1 else ''} {source_lang} -> {target_lang}"
                        " to learn from: adaptation needs a translation memory (hundreds of pairs at least; "
                        "docs/adapt.md)")
    n_held = default_held_out(len(unique)) if held_out is None else held_out
    if not 0 < n_held < len(unique):
        raise UserError(f"--held-out {n_held}: must be at least 1 and fewer than the {len(unique)} pairs read")
    held_set = _held_out(unique, n_held, seed)
    train = [p for i, p in enumerate(unique) if i not in held_set]
    held = [p for i, p in enumerate(unique) if i in held_set]
    digest = hashlib.sha256()
    for p in train + held:
        digest.update(json.dumps([p.source, p.target, p.hint], ensure_ascii=False).encode("utf-8") + b"\n")
    return Data(train, held, source_lang, target_lang, files, len(pairs), len(pairs) - len(unique), digest.hexdigest())


def _held_out(pairs: list[Pair], n: int, seed: int) -> set[int]:
    """Indices of about ``n`` held-out pairs, drawn by source: the plural forms or contexts of one source (pairs
    with other hints) are all held out or all trained on, so the "after" score never sees a trained source."""
    from bayling_cat.memory.fuzzy import normalize

    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(normalize(p.source), []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    held: set[int] = set()
    for key in keys:
        if len(held) >= n:
            break
        if len(held) + len(groups[key]) <= n or not held:
            held.update(groups[key])
    if len(held) >= len(pairs):
        raise UserError(f"--held-out {n}: the pairs share too few distinct sources to hold any out")
    return held


def _shown(location: str) -> str:
    """A memory location as the metadata and the report may show it: a PostgreSQL URL without its password."""
    from bayling_cat.memory import is_url

    if is_url(location):
        from bayling_cat.memory.postgres import redact

        return redact(location)
    return str(location)


def _memory_pairs(location: str, source_lang: str, target_lang: str) -> list[Pair]:
    """The memory's human units for the pair (read only: a memory that is not there is refused, never made)."""
    from bayling_cat.evaluate.references import _matches
    from bayling_cat.memory import is_url, open_memory

    if not source_lang or not target_lang:
        raise UserError("--memory: name the language pair with --source-lang and --target-lang")
    if not is_url(location) and not Path(location).is_file():
        raise UserError(f"--memory {location}: no translation memory there")
    shown = _shown(location)
    out = []
    with open_memory(location) as memory:
        for u in memory.units("human"):
            if _matches(source_lang, u["source_lang"]) and _matches(target_lang, u["target_lang"]):
                out.append(Pair(u["source"].strip(), u["target"].strip(), u.get("hint"),
                                f"{shown}:{u.get('id', '')}"))
    return out


# -- prompts --------------------------------------------------------------------------------------------------

@dataclass
class Example:
    """One training example: the prompt's token ids (as the engine encodes them) and the answer's, ended by
    the model's end token."""

    prompt: list[int]
    answer: list[int]
    shots: int = 0  # memory matches in the prompt
    terms: int = 0  # glossary terms in the prompt
    contradicted: int = 0  # glossary terms of the source its reference does not follow: left out of the prompt

    @property
    def length(self) -> int:
        return len(self.prompt) + len(self.answer)


class Prompter:
    """Builds prompts with the base model's loaded CTranslate2 engine, as the adapted model will be asked:
    the engine's requests, its template, its tokenizer and BOS rule. ``builtin_examples`` is what the adapted
    model's metadata will say (a model adapted on the few-shot template is asked without the built-in
    examples: it has learned the task; the memory's matches and the glossary's terms are still shown)."""

    def __init__(self, engine, builtin_examples: bool):
        import copy
        from dataclasses import replace

        self.engine = copy.copy(engine)
        extra = dict(engine.info.extra)
        if engine.template.name == "fewshot":
            extra["builtin_examples"] = builtin_examples
        self.engine.info = replace(engine.info, extra=extra)
        self.tokenizer = engine.tokenizer
        self.end_id = self.tokenizer.token_to_id(self._turn_end())

    def _turn_end(self) -> str:
        """The end token that closes an answer in this template: the one a rendered assistant turn ends with
        (a chat template's end-of-turn token, which revision turns render), else the first end token."""
        ends = self.engine.info.end_tokens
        if self.engine.template.name == "fewshot":
            return ends[0]
        from bayling_cat.templates import Message

        mark = "\u2063answer\u2063"
        try:
            text = self.engine.template.render([Message("user", "a"), Message("assistant", mark),
                                                Message("user", "b")])
        except Exception:  # noqa: BLE001 - a template that cannot render this turn: the first end token
            return ends[0]
        after = text.split(mark, 1)[-1]
        found = [(after.find(e), e) for e in ends if e and e in after]
        return min(found)[1] if found else ends[0]

    @property
    def extra(self) -> dict:
        return self.engine.info.extra

    def prompt_text(self, pair: Pair, source_lang: str, target_lang: str, examples=(), terms=()) -> str:
        messages = self.engine.requests([pair.source], source_lang, target_lang, [pair.hint], [list(terms)],
                                        [list(examples)])[0]
        return self.engine.template.render(messages)

    def ids(self, text: str) -> list[int]:
        return [self.tokenizer.token_to_id(t) for t in self.engine.encode_prompt(text)]

    def answer_ids(self, prompt_text: str, prompt: list[int], target: str) -> list[int]:
        """The reference as the model would write it after the prompt, then its end token: the tokens of
        prompt + answer after the prompt's own (a tokenizer may merge across the join differently from the
        answer alone); the answer alone when the prompt's tokens would change. A base model's few-shot line
        ends with "German:", and the answer starts with a space."""
        lead = " " if self.engine.template.name == "fewshot" else ""
        whole = self.ids(prompt_text + lead + target.strip())
        if whole[:len(prompt)] == prompt and len(whole) > len(prompt):
            ids = whole[len(prompt):]
        else:
            ids = self.tokenizer.encode(lead + target.strip(), add_special_tokens=False).ids
        return ids + [self.end_id]

    def example(self, pair: Pair, source_lang: str, target_lang: str, shots=(), glossary=None) -> Example:
        """One pair as a training example. Under a glossary the prompt shows the source's terms as the core
        does, but only those its reference follows: a TM that writes "Sichern" where the glossary says
        "speichern" would otherwise teach the model that a term in the prompt may be ignored. The
        do-not-translate terms are placeholders (``<n/>``), as the core sends them, and the reference gets the
        same placeholder where it holds the term, so the model learns to keep it (the core puts the term back);
        a reference without the term gets the plain source."""
        text, target, terms, contradicted = pair.source, pair.target, [], 0
        if glossary is not None:
            from bayling_cat.revision import steering

            steered, literals, matches, found = steering(glossary, pair.source)
            followed = {t.source for t in glossary.check(pair.source, pair.target, matches).present}
            terms = [(s, t) for s, t in found if s in followed]
            contradicted = len(found) - len(terms)
            if all(literal in target for literal in literals.values()):
                text = steered
                for n, literal in literals.items():
                    target = target.replace(literal, f"<{n}/>", 1)
        prompt_text = self.prompt_text(Pair(text, target, pair.hint), source_lang, target_lang, shots, terms)
        prompt = self.ids(prompt_text)
        return Example(prompt, self.answer_ids(prompt_text, prompt, target), len(shots), len(terms), contradicted)


def neighbours(train: list[Pair], source_lang: str, target_lang: str, threshold: float,
               limit: int = 2) -> list[list[tuple[str, str]]]:
    """For each training pair, the memory matches the core would show the model for its source, found among
    the other training pairs by the memory's own fuzzy search (a throw-away SQLite memory)."""
    from bayling_cat.memory import open_memory

    with tempfile.TemporaryDirectory(prefix="bayling-cat-adapt-") as tmp:
        with open_memory(str(Path(tmp) / "memory.sqlite")) as memory:
            memory.add([{"source": p.source, "target": p.target, "source_lang": source_lang,
                         "target_lang": target_lang, "hint": p.hint, "origin": "human"} for p in train], bulk=True)
            memory.finish_import()
            return [[(h.source, h.target) for h in memory.similar(p.source, source_lang, target_lang, limit,
                                                                   threshold)] for p in train]


def build_examples(prompter: Prompter, data: Data, glossary=None, threshold: float = 0.75,
                   max_length: int = 512) -> tuple[list[Example], int]:
    """The training examples, and how many pairs were too long for ``max_length`` tokens (left out)."""
    shots = neighbours(data.train, data.source_lang, data.target_lang, threshold)
    examples, too_long = [], 0
    for pair, found in zip(data.train, shots):
        ex = prompter.example(pair, data.source_lang, data.target_lang, found, glossary)
        if ex.length > max_length and found:  # the matches make it too long: the pair alone, as a short prompt
            ex = prompter.example(pair, data.source_lang, data.target_lang, (), glossary)
        if ex.length > max_length:
            too_long += 1
            continue
        examples.append(ex)
    return examples, too_long
