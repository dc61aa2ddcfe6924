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
    """5 % of the pairs, and at least 50 once there are 1,000 (a tenth of smaller sets, at least one)."""
    return max(1, math.ceil(0.05 * n), min(50, n // 10)) if n > 1 else 0


def read_pairs(references: list[str], memory_location: str | None, source_lang: str, target_lang: str,
               held_out: int | None, seed: int = 1) -> Data:
    """Every approved pair for the language pair, one per distinct (source, hint), split into training and
    held-out pairs (a reproducible draw)."""
    from bayling_cat.evaluate import references as reader

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
        files.append({"path": str(memory_location), "format": "memory", "approved": len(found)})
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
    order = list(range(len(unique)))
    random.Random(seed).shuffle(order)
    held = sorted(order[:n_held])
    held_set = set(held)
    train = [p for i, p in enumerate(unique) if i not in held_set]
    digest = hashlib.sha256()
    for p in train + [unique[i] for i in held]:
        digest.update(json.dumps([p.source, p.target, p.hint], ensure_ascii=False).encode("utf-8") + b"\n")
    return Data(train, [unique[i] for i in held], source_lang, target_lang, files, len(pairs),
                len(pairs) - len(unique), digest.hexdigest())


def _memory_pairs(location: str, source_lang: str, target_lang: str) -> list[Pair]:
    from bayling_cat.memory import open_memory
    from bayling_cat.evaluate.references import _matches

    if not source_lang or not target_lang:
        raise UserError("--memory: name the language pair with --source-lang and --target-lang")
    out = []
    with open_memory(location) as memory:
        for u in memory.units("human"):
            if _matches(source_lang, u["source_lang"]) and _matches(target_lang, u["target_lang"]):
                out.append(Pair(u["source"], u["target"], u.get("hint"), f"{location}:{u.get('id', '')}"))
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
        tokenizer = engine.tokenizer
        end = engine.info.end_tokens[0]
        self.end_id = tokenizer.token_to_id(end)
        self.tokenizer = tokenizer

    @property
    def extra(self) -> dict:
        return self.engine.info.extra

    def prompt_text(self, pair: Pair, source_lang: str, target_lang: str, examples=(), terms=()) -> str:
        messages = self.engine.requests([pair.source], source_lang, target_lang, [pair.hint], [list(terms)],
                                        [list(examples)])[0]
        return self.engine.template.render(messages)

    def ids(self, text: str) -> list[int]:
        return [self.tokenizer.token_to_id(t) for t in self.engine.encode_prompt(text)]

    def answer_ids(self, target: str) -> list[int]:
        """The reference as the model would write it after the prompt, then its end token. A base model's
        few-shot line ends with "German:" and the answer starts with a space; a chat template ends its turn
        with the assistant's header."""
        lead = " " if self.engine.template.name == "fewshot" else ""
        ids = self.tokenizer.encode(lead + target.strip(), add_special_tokens=False).ids
        return ids + [self.end_id]

    def example(self, pair: Pair, source_lang: str, target_lang: str, shots=(), glossary=None) -> Example:
        text, terms = pair.source, []
        if glossary is not None:
            from bayling_cat.revision import steering

            text, _, _, terms = steering(glossary, pair.source)
        prompt = self.prompt_text(Pair(text, pair.target, pair.hint), source_lang, target_lang, shots, terms)
        return Example(self.ids(prompt), self.answer_ids(pair.target), len(shots), len(terms))


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
