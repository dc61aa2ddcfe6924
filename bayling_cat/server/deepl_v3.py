"""DeepL API v3 (/v3/languages, /v3/glossaries), as newer Weblate versions and the official deepl SDK's
multilingual-glossary calls speak it. A v3 glossary holds one dictionary per language pair; it is a
bayling-cat glossary like the v2 ones (``glossary_id`` on /v2/translate applies the dictionary of the
request's language pair), and v2 glossaries show here as glossaries of one dictionary.
"""

from __future__ import annotations

import csv
import io
import time

from flask import Blueprint, Response, jsonify, request

from bayling_cat import languages
from bayling_cat.server import deepl
from bayling_cat.server.common import body, glossaries
from bayling_cat.server.errors import ApiError
from bayling_cat.server.glossaries import GlossaryRecord, entries_glossary
from bayling_cat.server.service import LANGUAGES
from bayling_cat.server.protocols import register

bp = Blueprint("deepl_v3", __name__)
PREFIXES = ("/v3/",)
AUTH_STATUS = 403
error_body = deepl.error_body  # DeepL's error shape, as on /v2
deepl_lang = deepl.deepl_lang
RESOURCES = ("translate_text", "translate_document", "glossary")
TARGET_VARIANTS = {"en": ["en-GB", "en-US"], "pt": ["pt-BR", "pt-PT"], "zh": ["zh-Hans", "zh-Hant"]}


# -- languages ------------------------------------------------------------------------------------------------

@bp.get("/v3/languages")
def languages_v3():
    resource = request.args.get("resource") or request.args.get("product")
    if resource not in RESOURCES:
        raise ApiError(400, f"Value for 'resource' not supported: expected one of {', '.join(RESOURCES)}.")
    features = {"translate_text": ["formality", "glossary", "tag_handling"],
                "translate_document": ["formality", "glossary"], "glossary": []}[resource]
    out = []
    for code in LANGUAGES:
        entries = [(code, True, resource == "glossary" or code not in TARGET_VARIANTS)]
        if resource != "glossary":
            entries += [(v, False, True) for v in TARGET_VARIANTS.get(code, [])]
        for lang, source, target in entries:
            out.append({"lang": lang, "name": languages.name(lang), "usable_as_source": source,
                        "usable_as_target": target, "status": "stable",
                        "features": {f: {"status": "stable"} for f in features}})
    return jsonify(out)


@bp.get("/v3/languages/resources")
def resources_v3():
    return jsonify([{"name": "translate_text", "features": [
        {"name": "formality", "needs_target_support": True}, {"name": "tag_handling", "needs_source_support": True,
                                                              "needs_target_support": True},
        {"name": "glossary", "needs_source_support": True, "needs_target_support": True}]},
        {"name": "translate_document", "features": [{"name": "formality", "needs_target_support": True}]},
        {"name": "glossary", "features": []}])


# -- glossaries -----------------------------------------------------------------------------------------------

def pair(source_lang, target_lang) -> tuple[str, str]:
    src = deepl_lang(source_lang, "source_lang").split("-")[0]
    tgt = deepl_lang(target_lang, "target_lang").split("-")[0]
    if src == tgt:
        raise ApiError(400, "Source and target language of a dictionary must differ.")
    return src, tgt


def parse_entries(text, fmt: str) -> list[dict]:
    """DeepL's entry formats: TSV (source TAB target) or CSV (source,target[,source_lang,target_lang], with
    standard quoting), one entry a line. Duplicate sources and empty terms are refused, as DeepL does."""
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Parameter 'entries' not specified.")
    if fmt not in ("tsv", "csv"):
        raise ApiError(400, "Value for 'entries_format' not supported.")
    rows = csv.reader(io.StringIO(text)) if fmt == "csv" else (line.split("\t") for line in text.splitlines())
    entries, seen = [], set()
    try:
        for n, row in enumerate(rows, 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ApiError(400, f"Invalid glossary entries: line {n} has no source and target.")
            source = row[0].strip()
            if source in seen:
                raise ApiError(400, f"Invalid glossary entries: duplicate source {source!r} on line {n}.")
            seen.add(source)
            entries.append({"source": source, "target": row[1].strip()})
    except csv.Error as exc:
        raise ApiError(400, f"Invalid glossary entries: {exc}") from None
    if not entries:
        raise ApiError(400, "Parameter 'entries' not specified.")
    return entries


def dictionaries_of(record: GlossaryRecord) -> dict:
    if record.dictionaries:
        return record.dictionaries
    g = record.glossary
    return {(g.source_lang.split("-")[0], g.target_lang.split("-")[0]): g}


def info(record: GlossaryRecord) -> dict:
    return {"glossary_id": record.id, "name": record.name, "dictionaries": [
        {"source_lang": s, "target_lang": t, "entry_count": len(g)} for (s, t), g in dictionaries_of(record).items()],
        "creation_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(record.created))}


def read_dictionary(d, i=None) -> tuple[tuple[str, str], list[dict]]:
    where = f"dictionaries[{i}]: " if i is not None else ""
    if not isinstance(d, dict):
        raise ApiError(400, f"{where}a dictionary must be an object with source_lang, target_lang and entries.")
    key = pair(d.get("source_lang"), d.get("target_lang"))
    return key, parse_entries(d.get("entries"), d.get("entries_format") or "tsv")


def set_dictionaries(record: GlossaryRecord, dictionaries: dict) -> None:
    """(The caller holds the registry's lock.) Refused (413) past the server's glossary bound."""
    glossaries().room(sum(len(g) for g in dictionaries.values()), replacing=record)
    record.dictionaries = dictionaries
    if dictionaries:
        record.glossary = next(iter(dictionaries.values()))


def record_of(gid) -> GlossaryRecord:
    record = glossaries().get(gid)
    if record is None:
        raise ApiError(404, "Glossary not found.")
    return record


@bp.post("/v3/glossaries")
def create_glossary_v3():
    data = body()
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise ApiError(400, "Parameter 'name' not specified.")
    given = data.get("dictionaries")
    if not isinstance(given, list) or not given:
        raise ApiError(400, "Parameter 'dictionaries' not specified.")
    dictionaries = {}
    for i, d in enumerate(given):
        key, entries = read_dictionary(d, i)
        if key in dictionaries:
            raise ApiError(400, f"dictionaries[{i}]: a second dictionary for {key[0]} -> {key[1]}.")
        dictionaries[key] = entries_glossary(entries, *key)
    record = glossaries().add(data["name"].strip(), next(iter(dictionaries.values())), dictionaries)
    return jsonify(info(record)), 201


@bp.get("/v3/glossaries")
def list_glossaries_v3():
    return jsonify({"glossaries": [info(r) for r in glossaries().all()]})


@bp.route("/v3/glossaries/<gid>", methods=["GET", "PATCH", "DELETE"])
def glossary_v3(gid):
    if request.method == "PATCH":
        data = body()
        name = data.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ApiError(400, "Value for 'name' not supported.")
        given = data.get("dictionaries")
        if given is not None and not isinstance(given, list):
            raise ApiError(400, "Value for 'dictionaries' not supported.")
        if name is None and not given:
            raise ApiError(400, "Provide a new 'name' or 'dictionaries' to update.")
        updates = [read_dictionary(d, i) for i, d in enumerate(given or [])]
    with glossaries().lock:
        record = record_of(gid)
        if request.method == "DELETE":
            glossaries().remove(gid, "Glossary not found.")
            return Response(status=204)
        if request.method == "PATCH":
            dictionaries = dict(dictionaries_of(record))
            for key, entries in updates:  # entries of an existing dictionary are updated, new ones added
                merged = {t.source: t.preferred for t in dictionaries[key].terms} if key in dictionaries else {}
                merged.update({e["source"]: e["target"] for e in entries})
                dictionaries[key] = entries_glossary([{"source": s, "target": t} for s, t in merged.items()], *key)
            if name is not None:
                record.name = name.strip()
            set_dictionaries(record, dictionaries)
        return jsonify(info(record))


@bp.route("/v3/glossaries/<gid>/dictionaries", methods=["PUT", "DELETE"])
def dictionary_v3(gid):
    if request.method == "PUT":
        key, entries = read_dictionary(body())
        replacement = entries_glossary(entries, *key)
    else:
        key = pair(request.args.get("source_lang"), request.args.get("target_lang"))
    with glossaries().lock:
        record = record_of(gid)
        dictionaries = dict(dictionaries_of(record))
        if request.method == "DELETE":
            if key not in dictionaries:
                raise ApiError(404, "Dictionary not found.")
            if len(dictionaries) == 1:
                raise ApiError(400, "A glossary must keep at least one dictionary: delete the glossary instead.")
            del dictionaries[key]
            set_dictionaries(record, dictionaries)
            return Response(status=204)
        dictionaries[key] = replacement
        set_dictionaries(record, dictionaries)
    return jsonify({"source_lang": key[0], "target_lang": key[1], "entry_count": len(replacement)})


@bp.get("/v3/glossaries/<gid>/entries")
def entries_v3(gid):
    key = pair(request.args.get("source_lang"), request.args.get("target_lang"))
    with glossaries().lock:
        glossary = dictionaries_of(record_of(gid)).get(key)
    if glossary is None:
        raise ApiError(404, "Dictionary not found.")
    tsv = "\n".join(f"{t.source}\t{t.preferred}" for t in glossary.terms if t.targets or t.dnt)
    return jsonify({"dictionaries": [{"source_lang": key[0], "target_lang": key[1], "entries": tsv,
                                      "entries_format": "tsv"}]})


register("deepl_v3", bp, PREFIXES, error_body, AUTH_STATUS)
