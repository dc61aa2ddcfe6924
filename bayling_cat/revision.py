"""Glossary-constrained translation as a conversation, the way BayLing was trained to work.

1. First turn: the matched glossary terms go into the request, do-not-translate terms are protected like
   inline codes, and forbidden target terms are banned in decoding.
2. The answer is checked; every violation becomes the next user turn of the same conversation ("'file' must
   be translated as 'Datei'", "do not use 'Akte'"), up to ``max_revisions`` turns. The best candidate seen
   wins: no blocking flag, then fewest violations, then the model's score.
3. Optionally (``term_strategy="force"``), a last resort puts each still-missing term in as a protected
   placeholder that comes back as the glossary's target term.
What remains is reported, never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from bayling_cat.document import PLACEHOLDER
from bayling_cat.engines.base import BLOCKING_FLAGS as BLOCKING, Generation, blank_stays_blank
from bayling_cat.glossary import Finding, Glossary, Match
from bayling_cat.templates import Message

TERM_STRATEGIES = ("none", "force")


@dataclass
class TermReport:
    """What the terminology stage did for one segment (attached to its Generation as ``.terms``)."""

    matched: list[str] = field(default_factory=list)  # source terms found
    applied: list[str] = field(default_factory=list)  # 'file -> Datei' present in the translation
    violated: list[str] = field(default_factory=list)  # what is still wrong, in words
    required: int = 0
    present: int = 0
    forbidden_hits: int = 0
    revisions: int = 0  # follow-up turns used
    forced: bool = False
    used: dict = field(default_factory=dict)  # source term -> target form used

    @classmethod
    def from_finding(cls, finding: Finding, revisions: int = 0, forced: bool = False) -> "TermReport":
        return cls(
            matched=list(dict.fromkeys(m.term.source for m in finding.matched)),
            applied=[f"{t.source} -> {finding.used.get(t.source.lower(), t.preferred)}" for t in finding.present],
            violated=finding.describe(), required=len(finding.present) + len(finding.missing),
            present=len(finding.present), forbidden_hits=len(finding.forbidden), revisions=revisions,
            forced=forced, used=dict(finding.used))


@dataclass
class _Job:
    index: int
    source: str  # the segment text as the connector gave it
    prompt_text: str  # with do-not-translate terms as placeholders
    literals: dict[int, str]  # placeholder number -> text it comes back as
    matches: list[Match]
    conversation: list[Message] = field(default_factory=list)
    best: Generation | None = None
    best_key: tuple = ()
    best_finding: Finding | None = None
    revisions: int = 0
    forced: bool = False
    last_answer: str | None = None  # the model's latest answer, placeholders as it wrote them
    last_finding: Finding | None = None


def _next_free(text: str) -> int:
    return max((int(m.group(2)) for m in PLACEHOLDER.finditer(text)), default=0) + 1


def _replace_spans(text: str, spans: list[tuple[int, int, str]], start: int) -> tuple[str, dict[int, str]]:
    """Replace (start, end, literal) spans by new placeholders numbered from ``start``."""
    literals: dict[int, str] = {}
    out, pos, n = [], 0, start
    for s, e, literal in sorted(spans):
        out.append(text[pos:s])
        out.append(f"<{n}/>")
        literals[n] = literal
        n += 1
        pos = e
    out.append(text[pos:])
    return "".join(out), literals


def restore(text: str, literals: dict[int, str]) -> tuple[str, list[int]]:
    """Put the protected terms back; returns the text and the placeholders the model lost."""
    seen = []

    def put(m):
        n = int(m.group(2))
        if n not in literals:
            return m.group(0)
        if m.group(1) == "/" or n in seen:  # a closing tag or a repeat of a protected term: not a term
            return ""
        seen.append(n)  # <n/> as asked, or <n> as small models write it
        return literals[n]

    out = PLACEHOLDER.sub(put, text)
    lost = [n for n in literals if n not in seen]
    return out, lost


def revision_request(feedback: str) -> str:
    """The follow-up turn that tells the model what is wrong, as in BayLing's interactive translation."""
    return f"In your translation, {feedback}. Reply with the corrected translation only."


def steering(glossary: Glossary, text: str):
    """What a glossary puts into a segment's prompt: the text with its do-not-translate terms as placeholders,
    what those placeholders hold, the glossary's matches, and the (source, preferred target) terms the prompt
    shows. ``bayling-cat adapt`` trains on prompts made by this same call."""
    matches = glossary.match(text)
    dnt = [(m.start, m.end, m.text) for m in matches if m.term.dnt]
    prompt_text, literals = _replace_spans(text, dnt, _next_free(text))
    terms = [(m.term.source, m.term.preferred) for m in _unique(matches) if not m.term.dnt and m.term.targets]
    return prompt_text, literals, matches, terms


class TermTranslator:
    """Wraps an Engine: the same ``translate`` call, with glossary constraints and revision turns."""

    def __init__(self, engine, glossaries: dict[tuple[str, str], Glossary | None], max_revisions: int = 2,
                 term_strategy: str = "none", ban_forbidden: bool = True):
        self.engine = engine
        self.glossaries = glossaries
        self.max_revisions = max_revisions
        self.term_strategy = term_strategy
        self.ban_forbidden = ban_forbidden
        self.turns = 0  # model calls beyond the first turn, for the benchmark

    @property
    def path(self):
        return self.engine.path

    def glossary(self, source_lang: str, target_lang: str) -> Glossary | None:
        return self.glossaries.get((source_lang, target_lang))

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str, progress=None,
                  hints: Sequence[str | None] | None = None, examples=None) -> list[Generation]:
        if not all(t.strip() for t in texts):
            return blank_stays_blank(lambda _, t, h, e, __: self.translate(t, source_lang, target_lang, progress, h, e),
                                     texts, hints, examples)
        glossary = self.glossary(source_lang, target_lang)
        if glossary is None:
            return self.engine.translate(texts, source_lang, target_lang, progress=progress, hints=hints,
                                         examples=examples)
        self._glossary = glossary
        hints = list(hints) if hints else [None] * len(texts)
        jobs, terms = [], []
        for i, text in enumerate(texts):
            prompt_text, literals, matches, found = steering(glossary, text)
            jobs.append(_Job(i, text, prompt_text, literals, matches))
            terms.append(found)
        banned = []
        if self.ban_forbidden and glossary.forbidden_forms():
            keep = [t for term in glossary.terms for t in term.targets] + \
                [term.source for term in glossary.terms if term.dnt]
            banned = self.engine.banned_sequences(glossary.forbidden_forms(), keep)
        conversations = self.engine.requests([j.prompt_text for j in jobs], source_lang, target_lang, hints, terms,
                                             examples)
        first = self.engine.generate(conversations, [j.prompt_text for j in jobs], suppress_sequences=banned,
                                     progress=progress)
        for job, conv, gen in zip(jobs, conversations, first):
            job.conversation = list(conv)
            self._consider(job, gen, glossary)
        for turn in range(self.max_revisions):
            todo = [j for j in jobs if j.best_finding is not None and j.best_finding.violations]
            if not todo:
                break
            conversations, feedbacks = [], []
            for job in todo:
                # the latest answer may have no violation and still not count (an echo, a loop): then what is
                # wrong is what the best candidate still gets wrong
                wrong = job.last_finding if job.last_finding.violations else job.best_finding
                feedback = "; ".join(wrong.describe())
                job.conversation = job.conversation + [
                    Message("assistant", job.last_answer),
                    Message("user", revision_request(feedback)),
                ]
                conversations.append(job.conversation)
                feedbacks.append(feedback)
            answers = self.engine.generate(conversations, [j.prompt_text for j in todo], suppress_sequences=banned)
            self.turns += len(todo)
            for job, gen, feedback in zip(todo, answers, feedbacks):
                job.revisions += 1
                self._consider(job, gen, glossary, feedback)
        if self.term_strategy == "force":
            self._force([j for j in jobs if j.best_finding is not None and j.best_finding.missing],
                        source_lang, target_lang, hints, glossary, banned)
        return [self._result(job) for job in jobs]

    def _consider(self, job: _Job, gen: Generation, glossary: Glossary, feedback: str = "") -> None:
        text, lost = restore(gen.text, job.literals)
        flags = list(gen.flags)
        for n in lost:  # a protected term the model dropped comes back at the end, like a lost code
            text = f"{text} {job.literals[n]}".strip()
        if lost:
            flags.append("terms-restored")
        finding = glossary.check(job.source, text, job.matches)
        job.last_answer = gen.text
        job.last_finding = finding
        # an answer that repeats the instructions back ("'file' must be translated as 'Datei'") is no translation
        echoed = bool(feedback) and any(part in gen.text for part in feedback.split("; ") if part)
        blocking = echoed or any(f in BLOCKING for f in flags)
        key = (blocking, finding.violations, -(gen.score or 0.0))
        if job.best is None or key < job.best_key:
            job.best = Generation(text, flags, gen.score, gen.generated_tokens)
            job.best_key = key
            job.best_finding = finding

    def _force(self, jobs: list[_Job], source_lang, target_lang, hints, glossary, banned) -> None:
        """Last resort: the missing terms become placeholders that come back as the target terms."""
        if not jobs:
            return
        prompts = []
        for job in jobs:
            missing = {id(t) for t in job.best_finding.missing}
            spans = [(m.start, m.end, m.term.preferred) for m in job.matches if id(m.term) in missing or m.term.dnt]
            text, literals = _replace_spans(job.source, spans, _next_free(job.source))
            prompts.append((text, literals))
        conversations = self.engine.requests([p for p, _ in prompts], source_lang, target_lang,
                                             [hints[j.index] for j in jobs])
        answers = self.engine.generate(conversations, [p for p, _ in prompts], suppress_sequences=banned)
        self.turns += len(jobs)
        for job, (_, literals), gen in zip(jobs, prompts, answers):
            saved = job.literals
            job.literals = literals
            before = job.best_key
            self._consider(job, gen, glossary)
            job.forced = job.best_key != before
            job.literals = saved

    def _result(self, job: _Job) -> Generation:
        gen = job.best
        finding = job.best_finding
        if self.ban_forbidden and finding.forbidden:
            # decoding bans the forbidden words' usual tokens; an inflected or oddly tokenised form can slip
            # through, so it is replaced by the preferred term: with banning on, none ever reaches the file
            gen.text = substitute(gen.text, finding, self._glossary)
            gen.flags.append("term-substituted")
            finding = self._glossary.check(job.source, gen.text, job.matches)
        gen.terms = TermReport.from_finding(finding, job.revisions, job.forced)
        return gen


def substitute(text: str, finding: Finding, glossary: Glossary) -> str:
    """Replace each forbidden form found in ``text`` by its term's preferred target (capitalised alike)."""
    from bayling_cat.glossary import find

    for term, form in finding.forbidden:
        replacement = term.preferred if (term.targets or term.dnt) else ""
        for start, end in sorted(find(text, form, glossary.target_lang), reverse=True):
            word = replacement
            if word and text[start:start + 1].isupper() and not term.dnt:
                word = word[:1].upper() + word[1:]
            text = text[:start] + word + text[end:]
    return re.sub(r"  +", " ", text).strip()


def _unique(matches: list[Match]) -> list[Match]:
    seen, out = set(), []
    for m in matches:
        if id(m.term) not in seen:
            seen.add(id(m.term))
            out.append(m)
    return out


def feedback_note(report: TermReport) -> str | None:
    """The note a translator reads in the file: terms applied and what is still wrong."""
    if not report.matched:
        return None
    parts = []
    if report.applied:
        parts.append("terms applied: " + ", ".join(report.applied))
    if report.violated:
        parts.append("terminology to check: " + "; ".join(report.violated))
    if report.forced:
        parts.append("a missing term was forced into the translation: check the grammar around it")
    return "; ".join(parts) if parts else None



@dataclass
class Conversation:
    """One segment's interactive revision: the request, the translation, then instruction after instruction.

    The same object serves the command line (``bayling-cat revise``) and, later, the REST hook.
    """

    source: str
    translation: str
    source_lang: str
    target_lang: str
    hint: str | None = None
    turns: list[tuple[str, str]] = field(default_factory=list)  # (instruction, answer)

    @property
    def latest(self) -> str:
        return self.turns[-1][1] if self.turns else self.translation

    def messages(self, engine, instruction: str) -> list[Message]:
        [request] = engine.requests([self.source], self.source_lang, self.target_lang, [self.hint])
        messages = list(request) + [Message("assistant", self.translation)]
        for said, answer in self.turns:
            messages += [Message("user", said), Message("assistant", answer)]
        return messages + [Message("user", instruction)]

    def revise(self, engine, instruction: str, session=None) -> Generation:
        """Ask for a revision; the answer becomes the next turn. ``session``: the key under which an engine
        with sessions keeps this conversation's state (the next turn evaluates only the new turns)."""
        extra = {"session": session} if session is not None else {}
        [gen] = engine.generate([self.messages(engine, instruction)], [self.source], **extra)
        self.turns.append((instruction, gen.text))
        return gen
