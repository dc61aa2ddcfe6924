"""Glossaries: TBX (2008/LISA martif, TBX-Basic, TBX v3) and CSV/TSV, term matching in sources with light
stemming, and checking a target for the required, forbidden and do-not-translate terms.

Matching works on words for space-separated languages (a term matches whole words, its inflections found
by a Snowball stemmer where one exists for the language) and on characters for Chinese, Japanese and
Korean. Inline-code placeholders are never part of a match.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bayling_cat import languages
from bayling_cat.document import PLACEHOLDER
from bayling_cat.errors import UserError

NO_SPACES = {"zh", "ja", "ko", "th", "lo", "km", "my"}
SNOWBALL = {"ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "nl": "dutch", "en": "english",
            "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hu": "hungarian", "id": "indonesian",
            "it": "italian", "lt": "lithuanian", "nb": "norwegian", "nn": "norwegian", "no": "norwegian",
            "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
            "es": "spanish", "sv": "swedish", "tr": "turkish", "et": "estonian", "eu": "basque", "hi": "hindi"}
FORBIDDEN_STATUS = {"deprecated", "deprecatedterm", "deprecatedterm-admn-sts", "superseded", "supersededterm",
                    "supersededterm-admn-sts", "forbidden", "forbiddenterm", "obsolete", "do-not-use", "rejected"}
ADMITTED_STATUS = {"admitted", "admittedterm", "admittedterm-admn-sts", "alternative", "allowed"}
DNT_STATUS = {"dnt", "do-not-translate", "donottranslate", "untranslatable", "keep"}


class GlossaryError(UserError):
    pass


@dataclass
class Term:
    """One concept: a source term and what the target must (or must not) say for it."""

    source: str
    targets: list[str] = field(default_factory=list)  # preferred first, then admitted alternatives
    forbidden: list[str] = field(default_factory=list)
    dnt: bool = False  # do not translate: the source term stays verbatim
    case_sensitive: bool = False
    note: str = ""
    origin: str = ""  # file and entry, for messages

    @property
    def preferred(self) -> str:
        """The target to use: the source itself for a do-not-translate term, "" for a term that only forbids."""
        return self.source if self.dnt else self.targets[0] if self.targets else ""


@dataclass
class Match:
    term: Term
    start: int
    end: int
    text: str  # the source words matched


@dataclass
class Finding:
    """The terminology verdict on one target."""

    matched: list[Match]
    present: list[Term] = field(default_factory=list)  # required terms found in the target
    missing: list[Term] = field(default_factory=list)  # required terms absent
    forbidden: list[tuple[Term, str]] = field(default_factory=list)  # forbidden forms found
    used: dict = field(default_factory=dict)  # source term -> the target form used (for consistency)

    @property
    def violations(self) -> int:
        return len(self.missing) + len(self.forbidden)

    def describe(self) -> list[str]:
        out = [f"'{t.source}' must stay '{t.source}'" if t.dnt else f"'{t.source}' must be translated as "
               f"'{t.targets[0]}'" for t in self.missing]
        out += [f"do not use '{form}'" + (f" (use '{t.preferred}')" if t.targets or t.dnt else "")
                for t, form in self.forbidden]
        return out


# -- words and stems ------------------------------------------------------------------------------------

def _primary(lang: str) -> str:
    return lang.split("-")[0].lower()


@lru_cache(maxsize=None)
def _stemmer(lang: str):
    name = SNOWBALL.get(_primary(lang))
    if not name:
        return None
    try:
        import snowballstemmer
    except ImportError:
        return None
    return snowballstemmer.stemmer(name)


_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


@lru_cache(maxsize=20_000)  # every term of a glossary looks through the same text
def words(text: str) -> tuple[tuple[int, int, str], ...]:
    return tuple((m.start(), m.end(), m.group(0)) for m in _WORD.finditer(text))


@lru_cache(maxsize=200_000)
def inflected(word: str, lang: str) -> bool:
    """Whether the stemmer took an ending off ``word`` (German "sichern" -> "sich": yes; "sich": no)."""
    s = _stemmer(lang)
    return s is not None and s.stemWord(word.lower()) != word.lower()


AGGLUTINATIVE = {"fi", "et", "hu", "tr", "eu"}  # long case endings: more letters may follow a stem


def same_word(word: str, term_word: str, lang: str, case_sensitive: bool = False) -> bool:
    """Whether ``word`` is ``term_word`` or one of its inflections. Sharing a Snowball stem is not enough:
    Snowball reduces German "sichern", "sicher" and "Sicherheits" all to "sich", which is also a word of its
    own (the reflexive pronoun). So a bare stem is another word unless the term is bare too ("Datei" and
    "Dateien" share the stem "datei", which is "Datei" itself), and an inflection adds an ending to the stem,
    not a word ("Sicherheits" adds "erheits": a compound's first part, not an ending)."""
    word_stem = stem(word, lang, case_sensitive)
    if word_stem != stem(term_word, lang, case_sensitive):
        return False
    if word.lower() == term_word.lower():
        return True
    if inflected(term_word, lang) and not inflected(word, lang):
        return False
    longest = max(7 if _primary(lang) in AGGLUTINATIVE else 4, len(term_word) - len(word_stem) + 2)
    return len(word) - len(word_stem) <= longest


@lru_cache(maxsize=200_000)  # pure Python Snowball is slow, and a glossary stems the same words again and again
def stem(word: str, lang: str, case_sensitive: bool = False) -> str:
    base = word if case_sensitive else word.lower()
    s = _stemmer(lang)
    if s is None:
        return base
    stemmed = s.stemWord(base.lower())
    if case_sensitive:  # keep the original letters of the stem
        return base[:len(stemmed)] if base.lower().startswith(stemmed) else base
    return stemmed


def _visible(text: str) -> str:
    """Placeholders blanked out (same length), so no match can include an inline code."""
    return PLACEHOLDER.sub(lambda m: "\0" * len(m.group(0)), text)


def find(text: str, phrase: str, lang: str, case_sensitive: bool = False) -> list[tuple[int, int]]:
    """Where ``phrase`` (or an inflection of it) occurs in ``text``, as (start, end) spans."""
    visible = _visible(text)
    if not phrase.strip():
        return []
    if _primary(lang) in NO_SPACES or not words(phrase):
        hay, needle = (visible, phrase) if case_sensitive else (visible.lower(), phrase.lower())
        return [(m.start(), m.start() + len(needle)) for m in re.finditer(re.escape(needle), hay)]
    phrase_words = [w for _, _, w in words(phrase)]
    target = [stem(w, lang, case_sensitive) for w in phrase_words]
    toks = words(visible)
    stems = [stem(w, lang, case_sensitive) for _, _, w in toks]
    spans = []
    n = len(target)
    for i in range(len(toks) - n + 1):
        if stems[i:i + n] == target and all(same_word(toks[i + k][2], phrase_words[k], lang, case_sensitive)
                                            for k in range(n)):
            # the words must be adjacent (only spaces or hyphens between them), not across a code
            gap_ok = all(re.fullmatch(r"[\s\-]*", visible[toks[j][1]:toks[j + 1][0]]) for j in range(i, i + n - 1))
            if gap_ok:
                spans.append((toks[i][0], toks[i + n - 1][1]))
    return spans


# -- the glossary --------------------------------------------------------------------------------------

class Glossary:
    def __init__(self, terms: list[Term], source_lang: str, target_lang: str, name: str = ""):
        self.terms = terms
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.name = name
        digest = hashlib.sha256()
        for t in terms:
            digest.update(repr((t.source, t.targets, t.forbidden, t.dnt, t.case_sensitive)).encode())
        self.fingerprint = digest.hexdigest()[:16]

    def __len__(self):
        return len(self.terms)

    @classmethod
    def merge(cls, glossaries: list["Glossary"]) -> "Glossary | None":
        if not glossaries:
            return None
        terms = [t for g in glossaries for t in g.terms]
        return cls(terms, glossaries[0].source_lang, glossaries[0].target_lang,
                   ", ".join(g.name for g in glossaries))

    def concordance(self, text: str, limit: int = 20) -> list[Term]:
        """The terms whose source, targets or forbidden forms hold ``text`` (any case): the glossary side of
        a concordance search."""
        needle = text.strip().casefold()
        if not needle:
            return []
        return [t for t in self.terms if any(needle in form.casefold() for form in
                                             [t.source, *t.targets, *t.forbidden])][:limit]

    def forbidden_forms(self) -> list[str]:
        return sorted({f for t in self.terms for f in t.forbidden})

    def match(self, text: str) -> list[Match]:
        """The glossary terms in a source: longest first, no overlaps, in text order."""
        found: list[Match] = []
        taken: list[tuple[int, int]] = []
        stems = {case: {stem(w, self.source_lang, case) for _, _, w in words(_visible(text))} for case in (False, True)}
        for term in sorted(self.terms, key=lambda t: (-len(t.source), t.source)):
            first = self._first_stem(term)
            if first is not None and first not in stems[term.case_sensitive]:
                continue  # a term can only match where its first word does: most terms are skipped at once
            for start, end in find(text, term.source, self.source_lang, term.case_sensitive):
                if any(start < e and s < end for s, e in taken):
                    continue
                taken.append((start, end))
                found.append(Match(term, start, end, text[start:end]))
        return sorted(found, key=lambda m: m.start)

    def _first_stem(self, term: Term) -> str | None:
        """The stem of a term's first word (None where matching is by characters, as ``find`` does)."""
        if _primary(self.source_lang) in NO_SPACES:
            return None
        found = words(term.source)
        return stem(found[0][2], self.source_lang, term.case_sensitive) if found else None

    def check(self, source: str, target: str, matches: list[Match] | None = None) -> Finding:
        """Required target terms present (inflections accepted), forbidden ones absent, DNT ones verbatim."""
        matches = self.match(source) if matches is None else matches
        finding = Finding(matches)
        seen: set[int] = set()
        for m in matches:
            term = m.term
            if id(term) in seen:
                continue
            seen.add(id(term))
            if not term.dnt and not term.targets:
                continue  # a term that only forbids requires nothing (its forbidden forms are checked below)
            if term.dnt:  # verbatim, case included
                ok = term.source in _visible(target)
                form = term.source if ok else None
            else:
                form = next((t for t in term.targets
                             if find(target, t, self.target_lang, term.case_sensitive)), None)
                ok = form is not None
            (finding.present if ok else finding.missing).append(term)
            if form:
                finding.used[term.source.lower()] = form
        for term in self.terms:
            for bad in term.forbidden:
                if find(target, bad, self.target_lang, False):
                    finding.forbidden.append((term, bad))
        return finding


# -- loading -------------------------------------------------------------------------------------------

def load(path: str | Path, source_lang: str, target_lang: str) -> Glossary:
    """Read a TBX, CSV or TSV glossary for one language pair."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GlossaryError(f"{path}: cannot read the glossary ({exc.strerror or exc})") from None
    from bayling_cat.connectors.xmlio import looks_like_xml

    if looks_like_xml(data):  # UTF-16 and UTF-32 TBX too, never read as a table
        terms = _load_tbx(path, data, source_lang, target_lang)
    else:
        terms = _load_table(path, data, source_lang, target_lang)
    if not terms:
        raise GlossaryError(f"{path}: no {source_lang} -> {target_lang} terms in this glossary")
    return Glossary(terms, source_lang, target_lang, path.name)


def check_file(path: str | Path) -> None:
    """Fail now on a glossary that cannot be read at all (the language pair is checked when it is used)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GlossaryError(f"{path}: cannot read the glossary ({exc.strerror or exc})") from None
    from bayling_cat.connectors.xmlio import looks_like_xml

    if looks_like_xml(data):
        _tbx_root(path, data)
    elif not data.strip():
        raise GlossaryError(f"{path}: empty glossary")


def _lang_matches(code: str | None, wanted: str) -> bool:
    """'en' matches en, en-US, en_GB; 'pt-BR' matches pt-BR and pt."""
    if not code:
        return False
    code = code.strip().replace("_", "-").lower()
    wanted = wanted.lower()
    return code == wanted or code.split("-")[0] == wanted.split("-")[0]


def _status(value: str | None) -> str:
    return (value or "").strip().lower().replace(" ", "").replace("_", "-")


def _tbx_root(path: Path, data: bytes):
    """The root of a TBX file, parsed safely; a clear error for broken XML or another XML format."""
    from bayling_cat.connectors.xmlio import XmlDocument, local_name

    try:
        root = XmlDocument(path, data).root
    except UserError as exc:
        raise GlossaryError(str(exc)) from None
    if local_name(root) not in ("martif", "tbx"):
        raise GlossaryError(f"{path}: not a TBX glossary (the root element is <{local_name(root)}>)")
    return root


def _load_tbx(path: Path, data: bytes, source_lang: str, target_lang: str) -> list[Term]:
    from bayling_cat.connectors.xmlio import local_name

    root = _tbx_root(path, data)
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    terms: list[Term] = []
    langs_seen: set[str] = set()
    for entry in root.iter():
        if local_name(entry) not in ("termEntry", "conceptEntry"):
            continue
        entry_id = entry.get("id", "?")
        dnt_entry = any(local_name(d) == "descrip" and _status(d.get("type")) in ("translationneeded",)
                        and _status(d.text) == "no" for d in entry.iter())
        by_lang: dict[str, list[tuple[str, str]]] = {}
        for lang_set in entry:
            if local_name(lang_set) not in ("langSet", "langSec"):
                continue
            code = lang_set.get(xml_lang) or lang_set.get("lang") or ""
            langs_seen.add(code)
            for term_el in lang_set.iter():
                if local_name(term_el) != "term" or not (term_el.text or "").strip():
                    continue
                group = term_el.getparent()
                status = ""
                for note in group.iter():
                    if local_name(note) in ("termNote", "descrip", "admin") and _status(note.get("type")) in (
                            "administrativestatus", "normativeauthorization", "usagestatus", "status"):
                        status = _status(note.text)
                by_lang.setdefault(code, []).append(("".join(term_el.itertext()).strip(), status))
        src = next((v for k, v in by_lang.items() if _lang_matches(k, source_lang)), None)
        tgt = next((v for k, v in by_lang.items() if _lang_matches(k, target_lang)), None)
        if not src:
            continue
        allowed_src = [t for t, s in src if s not in FORBIDDEN_STATUS] or [src[0][0]]
        preferred = [t for t, s in (tgt or []) if s not in FORBIDDEN_STATUS and s not in ADMITTED_STATUS]
        admitted = [t for t, s in (tgt or []) if s in ADMITTED_STATUS]
        forbidden = [t for t, s in (tgt or []) if s in FORBIDDEN_STATUS]
        for source in allowed_src:
            dnt = dnt_entry or any(s in DNT_STATUS for _, s in src) or (
                bool(preferred) and preferred[0] == source and not admitted)
            if not (preferred or admitted or dnt):
                if forbidden:
                    terms.append(Term(source, [], forbidden, origin=f"{path.name} entry {entry_id}"))
                continue
            terms.append(Term(source, [] if dnt else preferred + admitted, forbidden, dnt=dnt,
                              origin=f"{path.name} entry {entry_id}"))
    has_pair = any(_lang_matches(c, source_lang) for c in langs_seen) and \
        any(_lang_matches(c, target_lang) for c in langs_seen)
    if not terms or not has_pair:
        have = ", ".join(sorted(c for c in langs_seen if c)) or "none"
        raise GlossaryError(f"{path}: no {source_lang} -> {target_lang} terms (languages in the file: {have})")
    return terms


def _load_table(path: Path, data: bytes, source_lang: str, target_lang: str) -> list[Term]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise GlossaryError(f"{path}: line {line}: not UTF-8 text (save the CSV/TSV as UTF-8)") from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = "\t" if path.suffix.lower() == ".tsv" or first.count("\t") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise GlossaryError(f"{path}: empty glossary")
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]

    def column(wanted: str) -> int | None:
        for i, h in enumerate(header):
            try:
                if _lang_matches(languages.normalize(h), wanted):
                    return i
            except UserError:
                continue
        return None

    src_col, tgt_col = column(source_lang), column(target_lang)
    if src_col is None or tgt_col is None:
        raise GlossaryError(f"{path}: line 1: the header names no {source_lang if src_col is None else target_lang} "
                            f"column (columns: {', '.join(header)})")
    note_col = next((i for i, h in enumerate(lowered) if h in ("note", "notes", "comment", "definition")), None)
    status_col = next((i for i, h in enumerate(lowered) if h in ("status", "type", "usage")), None)
    case_col = next((i for i, h in enumerate(lowered) if h.replace("-", "_") in
                     ("case_sensitive", "case", "casesensitive", "match_case")), None)
    by_source: dict[str, Term] = {}
    order: list[Term] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(src_col, tgt_col):
            raise GlossaryError(f"{path}: line {line_no}: {len(row)} columns, the header has {len(header)}")
        source, target = row[src_col].strip(), row[tgt_col].strip()
        if not source:
            raise GlossaryError(f"{path}: line {line_no}: empty {source_lang} term")
        status = _status(row[status_col]) if status_col is not None and status_col < len(row) else ""
        case = case_col is not None and case_col < len(row) and row[case_col].strip().lower() in (
            "yes", "y", "true", "1", "x")
        key = source if case else source.lower()
        term = by_source.get(key)
        if term is None:
            term = Term(source, case_sensitive=case, origin=f"{path.name} line {line_no}",
                        note=row[note_col].strip() if note_col is not None and note_col < len(row) else "")
            by_source[key] = term
            order.append(term)
        if status in DNT_STATUS or (target == source and status not in FORBIDDEN_STATUS):
            term.dnt = True
        elif not target:
            raise GlossaryError(f"{path}: line {line_no}: empty {target_lang} term for '{source}'")
        elif status in FORBIDDEN_STATUS:
            term.forbidden.append(target)
        elif status in ADMITTED_STATUS:
            term.targets.append(target)
        elif status == "preferred":
            term.targets.insert(0, target)
        else:  # no status: the first row is the preferred term, later rows admitted alternatives
            term.targets.append(target)
    for term in order:
        if term.dnt:
            term.targets = []
        elif not term.targets and not term.forbidden:
            raise GlossaryError(f"{term.origin}: '{term.source}' has no usable {target_lang} term")
    return order
