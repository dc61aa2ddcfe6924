"""The report of a file run: per segment what was done and why, totals, terminology figures, and the one-line
summary the command line prints."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from bayling_cat import __version__
from bayling_cat.document import COPIED, FLAG_CHARS, FLAG_CODES, FLAGGED, SKIPPED, TRANSLATED
from bayling_cat.fileio import write_atomic

FLAG_TEXT = {
    "repetition": "runaway repetition (cut)",
    "length-limit": "stopped at the generation limit (incomplete)",
    "extra-text": "commentary after the translation was cut",
    "empty": "the model gave no translation",
    FLAG_CODES: "inline codes lost, duplicated or invented by the model were repaired",
    "terms-restored": "do-not-translate terms the model dropped were put back at the end",
    "term-substituted": "a forbidden term the model used was replaced by the glossary's term",
    "retried": "the first answer was degenerate; this is the second try",
    FLAG_CHARS: "control characters or non-characters in the model's output were removed",
    "invalid-bytes": "the model's output held bytes that are not UTF-8 (shown as \ufffd): a character was lost",
    "entry-left-untranslated": "another form of this plural entry had no usable translation: the entry is left "
                               "untranslated",
    "commentary": "the model's introduction of its translation (\"Here is the translation:\") was cut",
}


def report(results: list[FileResult], seconds: float, model: str, info=None) -> dict:
    files = []
    totals = {"files": len(results), "failed_files": 0, "segments": 0, TRANSLATED: 0, COPIED: 0, SKIPPED: 0,
              FLAGGED: 0, "not_written": 0}
    for r in results:
        entry = {"input": str(r.input), "output": str(r.output) if r.output and not r.error else None,
                 "format": r.format, "source_lang": r.source_lang, "target_lang": r.target_lang, "error": r.error,
                 **({"declared_target_lang": r.declared_target_lang} if r.declared_target_lang else {})}
        if r.error:
            totals["failed_files"] += 1
        else:
            t = r.totals()
            entry["totals"] = t
            for k in t:
                totals[k] = totals.get(k, 0) + t[k]
            entry["segments"] = [{
                "id": s.key, "action": s.action,
                "reason": s.flags[0] if s.action == SKIPPED and s.flags else None,
                "flags": s.flags if s.action != SKIPPED else [],
                "written": s.translation is not None,
                "source": s.source, "translation": s.translation,
                **({"terms": terms_entry(s.terms)} if s.terms is not None else {}),
                **({"memory": s.memory} if getattr(s, "memory", None) else {}),
                **({"examples": s.examples} if getattr(s, "examples", None) else {}),
                **({"fuzzy": fuzzy_entry(s.fuzzy)} if getattr(s, "fuzzy", None) else {}),
                **({"checks": s.qa} if getattr(s, "qa", None) else {}),
            } for s in r.segments]
            entry["totals"]["from_memory"] = sum(1 for s in r.segments if getattr(s, "memory", None))
            entry["totals"]["check_failures"] = sum(1 for s in r.segments if getattr(s, "qa", None))
            for k in ("from_memory", "check_failures"):
                totals[k] = totals.get(k, 0) + entry["totals"][k]
            reports = [s.terms for s in r.segments if s.terms is not None]
            if reports:
                entry["terminology"] = terminology_totals(reports)
        files.append(entry)
    from bayling_cat.modelinfo import adaptation

    adapted = adaptation(info)  # a model bayling-cat adapt made: its base, data and held-out scores
    return {"tool": f"bayling-cat {__version__}", "model": model, **({"adapted": adapted} if adapted else {}),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 2), "totals": totals, "files": files}


def fuzzy_entry(hit) -> dict:
    """The best memory match of a segment as a CAT tool shows it: percentage, its source and target."""
    return {"percent": hit.percent, "source": hit.source, "target": hit.target, "origin": hit.origin}


def terms_entry(report) -> dict:
    return {"matched": report.matched, "applied": report.applied, "violated": report.violated,
            "revisions": report.revisions, "forced": report.forced}


def terminology_totals(reports) -> dict:
    """Term success rate, forbidden-term hits and consistency over a document."""
    required = sum(r.required for r in reports)
    present = sum(r.present for r in reports)
    forms: dict[str, set[str]] = {}
    for r in reports:
        for term, form in r.used.items():
            forms.setdefault(term, set()).add(form)
    inconsistent = {term: sorted(f) for term, f in sorted(forms.items()) if len(f) > 1}
    return {
        "segments_with_terms": sum(1 for r in reports if r.matched),
        "required": required, "present": present,
        "term_success_rate": round(present / required, 4) if required else None,
        "forbidden_hits": sum(r.forbidden_hits for r in reports),
        "revision_turns": sum(r.revisions for r in reports),
        "forced": sum(1 for r in reports if r.forced),
        "consistency": round(1 - len(inconsistent) / len(forms), 4) if forms else None,
        "inconsistent_terms": inconsistent,
    }


def write_report(path: Path, data: dict) -> None:
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def summary(data: dict) -> str:
    t = data["totals"]
    parts = [f"{t['translated']} translated", f"{t['copied']} copied", f"{t['skipped']} skipped",
             f"{t['flagged']} flagged" + (f" ({t['not_written']} not written)" if t["not_written"] else "")]
    if t.get("from_memory"):
        parts.append(f"{t['from_memory']} from memory")
    if t.get("check_failures"):
        parts.append(f"{t['check_failures']} failing quality checks")
    failed = f", {t['failed_files']} failed" if t["failed_files"] else ""
    return (f"bayling-cat: {t['files']} file{'s' if t['files'] != 1 else ''}{failed}: {t['segments']} segments: "
            + ", ".join(parts) + f"; {data['seconds']:.1f} s")


def progress_bar(total: int):
    """tqdm on a terminal (segments, segments/s, ETA); nothing when standard error is not a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="seg", desc="translating", file=sys.stderr, dynamic_ncols=True)
