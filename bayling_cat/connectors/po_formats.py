"""The format strings of a PO entry's ``#, xxx-format`` flag, as patterns whose matches the model must copy.

``msgfmt -c`` checks every directive of an entry flagged with a format (c-format, lisp-format,
python-brace-format, ...) against its msgid: a directive lost or changed fails the catalogue. So every
directive of every format msgfmt knows (GNU gettext's "Format strings" chapter) is a protected code here.
The grammars are written out by hand because no library parses them all (translate-toolkit knows printf
and python-format only); each is linear (no nested quantifiers, every repetition starts with a fixed
character) and only applied to entries that carry the flag, since a loose grammar would eat "50% off".
"""

from __future__ import annotations

import functools
import re

# printf as C, Objective-C, PHP, Perl, awk, Lua, Tcl, Go, Emacs Lisp, Java's printf, JavaScript and GCC's
# internal formats write it: positions (%1$s), flags, width and precision (each may be * or *N$; the precision's
# digits may be left out: %2.f), length modifiers, and each language's conversions
PRINTF = (r"%(?:\d+\$)?[-+ #0'<>]*(?:\*(?:\d+\$)?|\d+)?(?:\.(?:\*(?:\d+\$)?|\d+)?)?"
          r"(?:hh|h|ll|l|L|q|j|z|t|I64|I32|I|w)?[diouxXeEfFgGaAcCsSpnm@qrbvTUjOKDHJLMVYZ]")
# Lisp and Scheme (format): ~A, ~10,2F, ~:[...~;...~], ~'x@A, ~v,vD, ~%, ~&, ~newline
LISP = (r"~(?:[-+]?\d+|'.|[vV#])?(?:,(?:[-+]?\d+|'.|[vV#])?)*[:@]*"
        r"[aAsSdDbBoOxXrRpPcCfFeEgG$%&|~tT<>*?()\[\];{}^_wWiI/\n]")
BRACES = r"\{[^{}\n]*\}"  # python-brace, perl-brace, C#, Java MessageFormat, Rust, JavaScript templates
SHELL = r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})"
QT = r"%L?\d{1,2}|%L?n"  # qt-format %1 %L1, qt-plural-format %n %Ln, kde-format %1
BOOST = r"%\d+%|%\|[^|\n]*\||" + PRINTF
RUBY = r"%\{[A-Za-z_]\w*\}|%<[A-Za-z_]\w*>[-+ #0]*\d*(?:\.\d+)?[a-zA-Z]?|" + PRINTF
PASCAL = r"%(?:\*|\d+)?:?[-]?(?:\*|\d+)?(?:\.(?:\*|\d+))?[dDuUxXeEfFgGnNmMsSpP]"
SMALLTALK = r"%\d+|%[A-Za-z]+:[^%]*%"
YCP = r"%\d"

FORMATS = {
    "c-format": PRINTF, "objc-format": PRINTF, "php-format": PRINTF, "perl-format": PRINTF,
    "awk-format": PRINTF, "lua-format": PRINTF, "tcl-format": PRINTF, "go-format": PRINTF,
    "elisp-format": PRINTF, "java-printf-format": PRINTF, "javascript-format": PRINTF + "|" + BRACES,
    "gcc-internal-format": PRINTF, "gfc-internal-format": PRINTF, "librep-format": PRINTF,
    "python-format": r"%\([^)\n]*\)[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|" + PRINTF,
    "lisp-format": LISP, "scheme-format": LISP,
    "python-brace-format": BRACES, "perl-brace-format": BRACES, "csharp-format": BRACES,
    "java-format": BRACES, "rust-format": BRACES,
    "sh-format": SHELL, "qt-format": QT, "qt-plural-format": QT, "kde-format": QT, "kde-kuit-format": QT,
    "boost-format": BOOST, "ruby-format": RUBY, "object-pascal-format": PASCAL,
    "smalltalk-format": SMALLTALK, "ycp-format": YCP,
}


def format_flags(unit) -> tuple[str, ...]:
    """The entry's format flags msgfmt checks (``no-c-format`` and ``possible-c-format`` excluded: msgfmt
    checks neither)."""
    flags = []
    for comment in getattr(unit, "typecomments", []):
        for flag in comment.lstrip("#,").split(","):
            flag = flag.strip()
            if flag in FORMATS:
                flags.append(flag)
    return tuple(sorted(set(flags)))


@functools.lru_cache(maxsize=64)
def pattern_for(flags: tuple[str, ...], first: str, rest: tuple[str, ...]) -> re.Pattern:
    """``first`` (our own placeholders), then the grammars of ``flags``, then ``rest``: one alternation."""
    return re.compile("|".join([first, *(FORMATS[f] for f in flags), *rest]))
