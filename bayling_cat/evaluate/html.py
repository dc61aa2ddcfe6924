"""The HTML report: one self-contained page (no script, no network: a Content-Security-Policy that forbids
loading anything) with the summary table, a histogram of sentence chrF per row as inline SVG, and the worst
segments with a word-level diff of hypothesis against reference. Every text from the documents is escaped."""

from __future__ import annotations

import difflib
import re
from html import escape

BINS = 10  # chrF 0-10, 10-20, ... 90-100
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|\w+|\s+|[^\w\s]")

COLUMNS = [("BLEU", "bleu", "{:.1f}"), ("chrF++", "chrf++", "{:.1f}"), ("TER", "ter", "{:.1f}"),
           ("COMET", "comet", "{:.1f}"), ("exact", "exact_match", "{:.1%}"), ("≤5% edits", "within_5pct", "{:.1%}"),
           ("codes", "code_accuracy", "{:.1%}"), ("placeholders", "placeholder_accuracy", "{:.1%}"),
           ("terms", "term_success_rate", "{:.1%}"), ("forbidden", "forbidden_hits", "{}"),
           ("flagged", "flagged", "{:.1%}"), ("seg/s", "segments_per_second", "{:.2f}")]

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}
del{background:#fdd;text-decoration:line-through}
ins{background:#dfd;text-decoration:none}
.sig{font:12px monospace;color:#555}
.hist{display:inline-block;margin:0 1.5em 1em 0}
.src{color:#555}
"""


def value(row: dict, key: str):
    if key == "segments_per_second":
        return row.get(key)
    if key in ("term_success_rate", "forbidden_hits"):
        return (row.get("terminology") or {}).get(key)
    return row["metrics"].get(key)


def cell(row: dict, key: str, fmt: str) -> str:
    v = value(row, key)
    return "–" if v is None else fmt.format(v)


def word_diff(hypothesis: str, reference: str) -> str:
    """HTML: words of the reference the hypothesis lacks in <del>, words the hypothesis adds in <ins>."""
    ref, hyp = _TOKEN.findall(reference), _TOKEN.findall(hypothesis)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, hyp, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape("".join(ref[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(''.join(ref[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(''.join(hyp[j1:j2]))}</ins>")
    return "".join(out)


def histogram(row: dict, width: int = 320, height: int = 140) -> str:
    top_margin = 14  # room for the count above the tallest bar
    counts = [0] * BINS
    for s in row["segments"]:
        counts[min(BINS - 1, int(s["chrf"] // (100 / BINS)))] += 1
    top = max(counts) or 1
    bar = width / BINS
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 16}" height="{height + 30 + top_margin}" '
             f'role="img" aria-label="sentence chrF histogram for {escape(row["name"])}">'
             f'<g transform="translate(8 {top_margin})">']
    for i, n in enumerate(counts):
        h = round(height * n / top)
        lo = i * 100 // BINS
        parts.append(f'<rect x="{i * bar + 1:.0f}" y="{height - h}" width="{bar - 2:.0f}" height="{h}" '
                     f'fill="#4a7bb7"><title>chrF {lo}–{lo + 100 // BINS}: {n} segments</title></rect>')
        if n:
            parts.append(f'<text x="{i * bar + bar / 2:.0f}" y="{height - h - 3}" font-size="10" '
                         f'text-anchor="middle">{n}</text>')
    for i in range(0, BINS + 1, 2):
        parts.append(f'<text x="{i * bar:.0f}" y="{height + 14}" font-size="10" '
                     f'text-anchor="middle">{i * 100 // BINS}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height + 28}" font-size="11" text-anchor="middle">'
                 'sentence chrF</text></g></svg>')
    return "".join(parts)


def short_origin(origin: str, files: list[dict]) -> str:
    """'/long/path/app.fr.po:12:Save' -> 'app.fr.po:12:Save' (the full path is in the JSON report)."""
    for f in files:
        if origin.startswith(f["path"] + ":"):
            return f["path"].replace("\\", "/").rsplit("/", 1)[-1] + origin[len(f["path"]):]
    return origin


def page(report: dict, worst: int = 20) -> str:
    refs = report["references"]
    rows = report["rows"]
    sample = refs.get("sample")
    head = (f"{escape(report['source_lang'])} → {escape(report['target_lang'])}: {refs['segments']} segments"
            + (f" (a sample of {refs['available']}, seed {sample['seed']})" if sample else ""))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           f"<title>bayling-cat evaluation {escape(report['source_lang'])} → {escape(report['target_lang'])}</title>",
           f"<style>{STYLE}</style></head><body>",
           f"<h1>Evaluation {escape(report['source_lang'])} → {escape(report['target_lang'])}</h1>",
           f"<p>{head}; references: " + ", ".join(escape(f["path"]) for f in refs["files"]) + "</p>",
           '<h2>Summary</h2><table id="summary"><tr><th>model</th>'
           + "".join(f"<th>{escape(t)}</th>" for t, _, _ in COLUMNS) + "</tr>"]
    for row in rows:
        out.append(f"<tr><td>{escape(row['name'])}</td>"
                   + "".join(f'<td class="n">{escape(cell(row, k, f))}</td>' for _, k, f in COLUMNS) + "</tr>")
    out.append("</table>")
    out.append('<p class="sig">' + "<br>".join(f"{escape(k)}: {escape(v)}" for k, v in report["signatures"].items())
               + "</p>")
    out.append('<h2>Sentence chrF</h2><div id="histograms">')
    for row in rows:
        out.append(f'<div class="hist"><div>{escape(row["name"])}</div>{histogram(row)}</div>')
    out.append("</div><h2>Worst segments</h2>")
    for n, row in enumerate(rows):
        out.append(f"<h3>{escape(row['name'])}</h3>"
                   "<p><del>struck</del>: in the reference, not in the hypothesis; <ins>green</ins>: in the "
                   "hypothesis, not in the reference.</p>"
                   f'<table class="worst" id="worst-{n}"><tr><th>segment</th><th>chrF</th><th>edits</th>'
                   "<th>source / diff (hypothesis vs reference)</th></tr>")
        for s in row["segments"][:worst]:
            flags = f"<br><small>{escape(', '.join(s['flags']))}</small>" if s.get("flags") else ""
            out.append(f"<tr><td>{escape(short_origin(s['origin'], refs['files']))}{flags}</td><td class=\"n\">{s['chrf']:.1f}</td>"
                       f"<td class=\"n\">{s['edit_distance']:.0%}</td><td><div class=\"src\">"
                       f"{escape(s['source'])}</div><div class=\"diff\">"
                       f"{word_diff(s['hypothesis'], s['reference'])}</div></td></tr>")
        out.append("</table>")
    out.append(f"<p><small>{escape(report['tool'])}, {escape(report['finished'])}</small></p></body></html>")
    return "\n".join(out) + "\n"
