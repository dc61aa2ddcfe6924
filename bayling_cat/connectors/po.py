"""gettext PO and POT files, read and written with translate-toolkit.

Placeholders (printf, python-format, braces, HTML/XML tags, newlines and tabs) become protected codes the
model copies; plural entries become one segment per plural form the target language needs; machine output
is marked fuzzy; every comment, flag, context, previous msgid and obsolete entry stays as it was.
"""

from __future__ import annotations

import gettext
import re
from datetime import datetime, timezone
from pathlib import Path

from translate.lang import data as tt_languages
from translate.misc.multistring import multistring
from translate.storage import pypo

from bayling_cat import __version__
from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.po_formats import format_flags, pattern_for
from bayling_cat.connectors.xmlio import DocumentError
from bayling_cat.document import Segment, clean_text, protect, restore_literals

TOOL = "bayling-cat"
NEWLINE = b"\n"
MAX_NPLURALS = 6  # CLDR's most: zero, one, two, few, many, other (Arabic, Welsh)
_CHARSET = re.compile(rb'"Content-Type:[^"\n]*?charset=([^"\s\\;]*)', re.I)

# What the model must copy. Strict printf forms are protected everywhere; the full grammar of each format
# (printf, Lisp's ~a, python-brace, ...) only in entries flagged with it (po_formats.py: in "50% off" a loose
# pattern would eat "% o").
_ALWAYS = [
    r"</?\d+/?>",  # text that looks like our own placeholders
    r"%\([^)\s]+\)[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]",  # python-format %(name)s
    r"%(?:\d+\$)?[-+#0]?\d*(?:\.\d+)?(?:ll|l|h|z|j|t)?[sdiufxXcp@]",  # %s %d %1$s %@ %.2f
    r"%%",
    r"\{[A-Za-z0-9_.\[\]:!<>^=+-]*\}",  # {name} {0} {} {0:>4}
    r"</?[A-Za-z][^<>]*?/?>",  # HTML/XML tags
    r"&[A-Za-z][A-Za-z0-9]*;|&#\d+;",  # character entities in HTML strings
    r"\n", r"\t",
]
PLACEHOLDERS = re.compile("|".join(_ALWAYS))


def looks_like_po(data: bytes) -> bool:
    return bool(re.search(rb'(?m)^\s*(?:#~\s*)?msgid\s+"', data[:65536]))


def decode_po(path: Path, data: bytes) -> str:
    """The file as text, decoded with the charset its header declares, the header then saying UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    m = _CHARSET.search(data)
    charset = m.group(1).decode("ascii", "replace") if m else ""
    if not charset or charset.upper() == "CHARSET":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DocumentError(f"{path}: line {line}: the header declares no usable charset and the text is not "
                                "UTF-8; fix the Content-Type line of the header") from None
    else:
        try:
            text = data.decode(charset)
        except LookupError:
            raise DocumentError(f"{path}: the header declares an unknown charset {charset!r}") from None
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DocumentError(f"{path}: line {line}: not valid {charset} as the header declares") from None
    if m:
        text = re.sub(r'(Content-Type:[^"\n]*?charset=)[^"\s\\;]*', r"\1UTF-8", text, count=1, flags=re.I)
    return text


def plural_info(lang: str) -> tuple[int, str] | None:
    """(nplurals, plural expression) for a language code: CLDR's rule (plurals.py; Welsh has 6 forms, not the 2
    of a hand-written table), else translate-toolkit's table for a language CLDR does not know."""
    from bayling_cat.connectors.plurals import cldr_plural, same_rule

    found = cldr_plural(lang)
    table = _table_plural(lang)
    if found is not None and not (table and same_rule(found, table)):
        return found
    return table  # the same counts in the same forms: the expression every gettext tool writes


def _table_plural(lang: str) -> tuple[int, str] | None:
    code = lang.replace("-", "_")
    for key in (code, code.split("_")[0]):
        if key in tt_languages.languages:
            _, n, expr = tt_languages.languages[key]
            return int(n), expr
    variants = [k for k in tt_languages.languages if k.startswith(code.split("_")[0] + "_")]
    if variants:
        _, n, expr = tt_languages.languages[variants[0]]
        return int(n), expr
    return None


def plural_examples(nplurals: int, expression: str) -> list[list[int]]:
    """For each plural form, the first counts that use it (e.g. English: [[1], [0, 2, 3]])."""
    try:
        func = gettext.c2py(expression)
    except (ValueError, SyntaxError):
        return [[] for _ in range(nplurals)]
    examples: list[list[int]] = [[] for _ in range(nplurals)]
    for n in list(range(0, 200)) + [1000, 1001, 1000000]:
        k = func(n)
        if 0 <= k < nplurals and len(examples[k]) < 3:
            examples[k].append(n)
    return examples


def _forms(value) -> list[str]:
    """The strings of a unit's source or target: one, or one per plural form."""
    if isinstance(value, multistring):
        return [str(s) for s in value.strings]
    return [str(value)] if value else []


def _same_edges(msgid: str, msgstr: str) -> str:
    """``msgstr`` beginning and ending with a line break exactly where ``msgid`` does (msgfmt -c insists;
    a line break the model moved, or a lost code appended at the end, would break the catalogue)."""
    if not msgstr:
        return msgstr
    if msgid.startswith("\n") != msgstr.startswith("\n"):
        msgstr = "\n" + msgstr if msgid.startswith("\n") else msgstr.lstrip("\n")
    if msgid.endswith("\n") != msgstr.endswith("\n"):
        msgstr = msgstr + "\n" if msgid.endswith("\n") else msgstr.rstrip("\n")
    return msgstr


class Po(Connector):
    format = "po"
    output_suffix = ".po"
    default_source_lang = "en"

    def __init__(self, path: Path, data: bytes, accelerator: str | None = None):
        super().__init__(path, data)
        self.accelerator = accelerator
        self.template = path.suffix.lower() == ".pot"
        self.crlf = b"\r\n" in data[:4096]
        text = decode_po(path, data)
        try:
            self.store = pypo.pofile.parsestring(text.encode("utf-8"))
        except Exception as exc:  # translate-toolkit raises its own parse errors and ValueErrors
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DocumentError(f"{path}: not a valid PO file ({message[:200]})") from None
        self.header = self.store.parseheader() if self.store.header() else {}
        self._check_nplurals(data)
        self.target_lang = self._language_from_file()
        self.source_lang = None  # gettext msgids carry no language: English unless --source-lang says
        self._plural: tuple[int, str] | None = None
        self._targets: dict[int, list[str]] = {}
        self._retargeted = False  # -t named another language than the file's: its header follows -t
        self._singular: dict[int, list[bool]] = {}  # per plural entry: which forms were made from the msgid
        self._emptied: set[int] = set()  # plural entries left untranslated as a whole (see _complete_plurals)

    def _check_nplurals(self, data: bytes) -> None:
        """A Plural-Forms header with more forms than any language has is refused in one line: every plural
        entry gets that many forms, so nplurals=50000000 in a 190-byte file took gigabytes."""
        m = re.search(r"nplurals\s*=\s*(\d+)", self.header.get("Plural-Forms", ""))
        if m and not 1 <= int(m.group(1)[:12]) <= MAX_NPLURALS:
            at = data.find(b"nplurals")
            line = f"line {data.count(NEWLINE, 0, at) + 1}: " if at >= 0 else ""
            raise DocumentError(f"{self.path}: {line}Plural-Forms declares nplurals={m.group(1)[:12]}; a language has "
                                f"from 1 to {MAX_NPLURALS} plural forms (CLDR); fix the header")

    def _language_from_file(self) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        candidates = [(self.header.get("Language", ""), False)]
        if not self.template:  # a guess from the file name: only a language translate-toolkit knows
            stem = self.path.stem
            candidates += [(c, True) for c in (stem, re.split(r"[._]", stem)[-1], "_".join(re.split(r"[.]", stem)[-1:]))]
        for c, guess in candidates:
            c = (c or "").strip()
            if c and c.upper() != "LANGUAGE":
                try:
                    return languages.normalize(c, strict=guess)
                except UserError:
                    continue
        return None

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        self._retargeted = self._retargeted or (replace and lang != self.target_lang)
        self.target_lang = lang
        self._plural = None

    def declared_target_language(self) -> str | None:
        """The header's Language (a language guessed from the file name declares nothing)."""
        value = (self.header.get("Language") or "").strip()
        return value if value and value.upper() != "LANGUAGE" else None

    # -- reading -------------------------------------------------------------------------------------

    def plurals(self) -> tuple[int, str]:
        """The plural forms every entry of the output has, and the header then declares: the file's own
        Plural-Forms for a catalogue in its own language; the target language's for a template (whose
        header, if filled at all, speaks of the source language) or a catalogue re-targeted with -t."""
        if self._plural is None:
            header = self.store.getheaderplural() if self.store.header() else (None, None)
            nplurals, expr = header
            valid = bool(nplurals and expr and str(nplurals).strip().isdigit() and "INTEGER" not in str(nplurals))
            own = (int(nplurals), expr.strip().rstrip(";")) if valid else None
            if own and not self.template and not self._retargeted:
                self._plural = own
            else:
                self._plural = plural_info(self.target_lang or "en") or own or (2, "(n != 1)")
        return self._plural

    def segments(self) -> list[Segment]:
        out: list[Segment] = []
        self._singular = {}
        for index, unit in enumerate(self.store.units):
            if unit.isheader() or unit.isobsolete():
                continue
            flags = format_flags(unit)  # every format msgfmt -c checks: its directives are codes too
            pattern = pattern_for(flags, _ALWAYS[0], tuple(_ALWAYS[1:])) if flags else PLACEHOLDERS
            ctx = unit.getcontext()
            sources = _forms(unit.source)
            label = (f"{ctx}|" if ctx else "") + (sources[0] if sources else "")[:50].replace("\n", " ")
            fuzzy = unit.isfuzzy()
            if unit.hasplural():
                nplurals, expr = self.plurals()
                examples = plural_examples(nplurals, expr)
                targets = _forms(unit.target)
                singular, plural = sources[0], sources[1]
                for k in range(nplurals):
                    counts = examples[k]
                    # the singular msgid for the form of n = 1, unless that form also serves 21 or 0 and the
                    # singular lacks the plural's placeholders ("One file" / "%d files"): msgfmt -c refuses a
                    # msgstr[k] without the %d its counts need
                    same_codes = sorted(pattern.findall(singular)) == sorted(pattern.findall(plural))
                    use_singular = nplurals > 1 and 1 in counts and (counts == [1] or same_codes)
                    self._singular.setdefault(id(unit), []).append(use_singular)
                    text = singular if use_singular else plural
                    codes: dict = {}
                    text, key = self._strip_accelerator(text)
                    source = protect(text, pattern, codes)
                    existing = targets[k] if k < len(targets) and targets[k] and not fuzzy else None
                    hint = (f"This is plural form {k + 1} of {nplurals}, used for counts such as "
                            f"{', '.join(map(str, counts)) or 'none'}.")
                    current = targets[k] if k < len(targets) and targets[k] else None
                    tcodes: dict = {}
                    current = protect(current, pattern, tcodes) if current else None
                    existing = current if existing else None
                    out.append(Segment(key=f"{index}:{label}[{k}]", source=source, codes=codes,
                                       target=existing, current=current, handle=(unit, k, key), hint=hint,
                                       target_codes=tcodes))
            else:
                codes = {}
                text, key = self._strip_accelerator(sources[0] if sources else "")
                source = protect(text, pattern, codes)
                target = (_forms(unit.target) or [""])[0]
                tcodes = {}
                current = protect(target, pattern, tcodes) if target else None
                existing = current if target and not fuzzy else None
                out.append(Segment(key=f"{index}:{label}", source=source, codes=codes, target=existing,
                                   current=current, handle=(unit, None, key), target_codes=tcodes))
        return out

    # -- writing -------------------------------------------------------------------------------------

    def _strip_accelerator(self, text: str) -> tuple[str, str | None]:
        """'&File' -> ('File', 'F') when an accelerator marker is configured; the model never sees it."""
        if not self.accelerator:
            return text, None
        marker = re.escape(self.accelerator)
        m = re.search(marker + r"(?!" + marker + r")(?![A-Za-z]+;)(\w)", text)
        if not m:
            return text, None
        return text[:m.start()] + text[m.start() + len(self.accelerator):], m.group(1)

    def _place_accelerator(self, text: str, key: str) -> str:
        """Put the marker before the same letter in the translation, else before its first letter."""
        letters = [i for i, ch in enumerate(text) if ch.isalnum()]
        if not letters:
            return text
        at = next((i for i in letters if text[i].lower() == key.lower()), letters[0])
        return text[:at] + self.accelerator + text[at:]

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        unit, k, key = segment.handle
        # the last guard: no control character the msgid does not hold itself (msgfmt and editors choke on them)
        plain = clean_text(restore_literals(text, segment.codes), "".join(_forms(unit.source)))
        if key:
            plain = self._place_accelerator(plain, key)
        plain = _same_edges(_forms(unit.source)[0] if _forms(unit.source) else "", plain)
        if k is None:
            unit.target = plain
        else:
            nplurals, _ = self.plurals()
            forms = self._targets.setdefault(id(unit), _forms(unit.target))
            forms += [""] * (nplurals - len(forms))
            forms[k] = plain
            unit.target = multistring(forms[:nplurals])
        unit.markfuzzy(origin not in ("human", "reviewed"))  # a person's confirmation removes the fuzzy mark

    def state(self, segment: Segment) -> str | None:
        unit = segment.handle[0]
        return "fuzzy" if unit.isfuzzy() else ("translated" if unit.istranslated() else "untranslated")

    def notes(self, segment: Segment) -> list[str]:
        unit = segment.handle[0]
        return [n for n in (unit.getnotes("developer"), unit.getnotes("translator")) if n and n.strip()]

    def write_suggestion(self, segment: Segment, text: str) -> None:
        raise NotImplementedError

    def add_note(self, segment: Segment, text: str) -> None:
        unit, k, _ = segment.handle
        prefix = f"plural form {k + 1}: " if k is not None else ""
        # one comment line each: notes quote glossary terms and checker messages, text from outside too
        text = " ".join(clean_text(text).split("\n"))
        unit.addnote(f"{TOOL}: {prefix}{text}", origin="translator")

    def clear_notes(self, segment: Segment) -> None:
        unit = segment.handle[0]
        notes = unit.getnotes("translator")
        if notes and any(line.startswith(f"{TOOL}:") for line in notes.split("\n")):
            kept = "\n".join(line for line in notes.split("\n") if not line.startswith(f"{TOOL}:"))
            unit.removenotes(origin="translator")
            if kept:
                unit.addnote(kept, origin="translator")

    def _header_fields(self) -> dict[str, str]:
        """The header fields the output must have that the file's header does not say already."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M+0000")
        header = self.store.parseheader() if self.store.header() else {}
        nplurals, expr = self.plurals()  # what the entries were written with: the header never contradicts them
        fields = {}
        if self.template or self._retargeted or not header.get("Language", "").strip() or \
                header.get("Language") == "LANGUAGE":
            fields["Language"] = self.target_lang.replace("-", "_")
        plural_forms = header.get("Plural-Forms", "")
        wanted = f"nplurals={nplurals}; plural={expr};"
        if (self.template or self._retargeted or not plural_forms or "INTEGER" in plural_forms or
                "EXPRESSION" in plural_forms) and " ".join(plural_forms.split()) != wanted:
            fields["Plural-Forms"] = wanted
        if self.template and not header.get("X-Generator"):  # a new catalogue says what made it; a .po is not ours
            fields["X-Generator"] = f"{TOOL} {__version__}"
        if self.template or header.get("PO-Revision-Date", "").startswith("YEAR"):
            fields["PO-Revision-Date"] = now
        if header.get("Content-Type", "text/plain; charset=UTF-8").lower().find("charset=utf-8") < 0:
            fields["Content-Type"] = "text/plain; charset=UTF-8"
        return fields

    def _update_header(self, fields: dict[str, str]) -> None:
        """The header rewritten by translate-toolkit (a template's, or one that cannot be edited line by line)."""
        if not self.store.header():
            self.store.updateheader(add=True, Content_Type="text/plain; charset=UTF-8",
                                    Content_Transfer_Encoding="8bit", MIME_Version="1.0")
        if fields:
            self.store.updateheader(add=True, **{k.replace("-", "_"): v for k, v in fields.items()})
        if self.template:
            header_unit = self.store.header()
            if header_unit is not None and header_unit.isfuzzy():
                header_unit.markfuzzy(False)  # a filled-in header is no longer the template's

    def _complete_plurals(self) -> None:
        """Every plural entry with exactly the header's number of forms (msgfmt -c refuses any other count),
        and none half translated: a form the model gave no usable answer for takes the translation of the
        nearest form made from the same msgid (a fuzzy draft, with a note), never an empty msgstr[k]."""
        nplurals, _ = self.plurals()
        for unit in self.store.units:
            if unit.isheader() or unit.isobsolete() or not unit.hasplural():
                continue
            forms = self._targets.get(id(unit), _forms(unit.target))
            if len(forms) == nplurals and (id(unit) not in self._targets or all(forms) or not any(forms)):
                continue
            if any(forms[nplurals:]) and id(unit) not in self._targets:
                continue  # the file's own entry, as it came: not bayling-cat's to cut
            forms = (forms + [""] * nplurals)[:nplurals]
            if id(unit) in self._targets and any(forms) and not all(forms):
                singular = (self._singular.get(id(unit), []) + [False] * nplurals)[:nplurals]  # see segments()
                for k in [k for k in range(nplurals) if not forms[k]]:
                    donors = [j for j in range(nplurals) if forms[j] and singular[j] == singular[k]]
                    if not donors:  # only a form of the other msgid: its placeholders would not fit
                        forms = [""] * nplurals
                        self._emptied.add(id(unit))
                        unit.addnote(f"{TOOL}: plural form {k + 1} got no usable machine translation; the entry "
                                     "is left untranslated", origin="translator")
                        break
                    donor = min(donors, key=lambda j: abs(j - k))
                    forms[k] = forms[donor]
                    unit.addnote(f"{TOOL}: plural form {k + 1}: no machine translation; form {donor + 1} copied, "
                                 "to review", origin="translator")
                unit.markfuzzy(any(forms))
            unit.target = multistring(forms)

    def unwritten(self, segment: Segment) -> bool:
        return id(segment.handle[0]) in self._emptied

    def serialize(self) -> bytes:
        self._complete_plurals()
        fields = self._header_fields()
        self.store.encoding = "UTF-8"
        data = None
        if not self.template and self.store.header():  # the file's own header: only the lines that change
            data = edit_header(bytes(self.store), fields)
        if data is None:
            self._update_header(fields)
            data = bytes(self.store)
        if self.crlf:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return data


_HEADER_BLOCK = re.compile(rb'(?m)^msgid ""\n((?:"[^\n]*"\n)*)msgstr ""\n((?:"[^\n]*"\n)*)')


def edit_header(data: bytes, fields: dict[str, str]) -> bytes | None:
    """``data`` (a catalogue as translate-toolkit wrote it, its header untouched) with each of ``fields`` set in
    the header: a field's own line replaced, a missing field appended as a line. Every other byte of the header
    stays as the file had it (translate-toolkit would re-wrap its long lines). None when a field spans several
    lines or the header cannot be found: the caller then lets translate-toolkit rewrite it."""
    m = _HEADER_BLOCK.search(data)
    if m is None or m.group(1):
        return None
    lines = m.group(2).split(b"\n")[:-1]
    for name, value in fields.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8")
        new = b'"' + name.encode("ascii") + b": " + escaped + b'\\n"'
        at = [i for i, line in enumerate(lines) if line.lower().startswith(b'"' + name.lower().encode() + b":")]
        if len(at) > 1:
            return None
        if at:
            if not lines[at[0]].endswith(b'\\n"'):  # the field goes on on the next line
                return None
            lines[at[0]] = new
        else:
            if lines and not lines[-1].endswith(b'\\n"'):
                return None
            lines.append(new)
    block = b"".join(line + b"\n" for line in lines)
    return data[:m.start(2)] + block + data[m.end(2):]
