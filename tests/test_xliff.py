"""XLIFF 1.2/2.x, SDLXLIFF and MQXLIFF through the document pipeline, with a scripted translator so the
output can be checked exactly; real corpus files for fidelity and for refusing malformed input."""

import json
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.connectors import open_document
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, _escape_attribute_breaks
from bayling_cat.pipeline import Options, Pipeline
from tests.conftest import SHARED
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data"
CORPUS = SHARED / "corpus"
NS1 = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
NS2 = {"x": "urn:oasis:names:tc:xliff:document:2.0", "mtc": "urn:oasis:names:tc:xliff:matches:2.0"}
SDL = {"x": "urn:oasis:names:tc:xliff:document:1.2", "sdl": "http://sdl.com/FileTypes/SdlXliff/1.0"}


def run(path, tmp_path, translator=None, **options):
    translator = translator or ScriptedTranslator()
    out = tmp_path / f"out{Path(path).suffix}"
    results = Pipeline(translator, Options(output=out, checks=False, **options)).run([str(path)])
    return results[0], out, translator


def unit_xml(root, unit_id, ns=NS1, tag="trans-unit"):
    [unit] = root.xpath(f"//x:{tag}[@id=$id]", namespaces=ns, id=unit_id)
    return unit


def target_xml(unit, ns=NS1):
    return etree.tostring(unit.find("x:target", ns), encoding="unicode", with_tail=False).split(">", 1)[1]


def c14n(data: bytes) -> str:
    """Canonical XML 2.0 (comments kept): equal for documents that are the same XML."""
    tree = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)).getroottree()
    return etree.canonicalize(tree, with_comments=True)


# -- XLIFF 1.2 ------------------------------------------------------------------------------------------

def test_xliff12_segments_and_decisions(tmp_path):
    result, _, translator = run(DATA / "inline-1.2.xlf", tmp_path)
    actions = {s.key: (s.action, s.flags) for s in result.segments}
    assert actions == {
        "bold": ("translated", []), "codes": ("translated", []), "marks": ("translated", []),
        "space": ("translated", []), "done": ("skipped", ["approved"]), "final": ("skipped", ["final"]),
        "has-target": ("skipped", ["has a target"]), "placeholder-target": ("translated", []),
        "locked": ("skipped", ["translate=no"]), "in-group": ("skipped", ["translate=no"]),
        "empty": ("skipped", ["empty source"]), "number": ("copied", []), "repeat1": ("translated", []),
        "repeat2": ("translated", []), "segmented:1": ("translated", []), "segmented:2": ("translated", []),
        "f2-1": ("translated", []),
    }
    [(texts, src, tgt)] = translator.calls
    assert (src, tgt) == ("en", "de")
    assert texts.count("Save the file.") == 1  # repeated segments are translated once
    assert "Click <1>Save</1> to keep your <2/>changes." in texts
    assert "Open <1/>the help<2/> or <3/> now<4/>." in texts
    assert "Use <1/> with <2>translation memory</2> and <3/>more<4/>." in texts  # protected mrk is a code


def test_xliff12_targets_codes_and_states(tmp_path):
    script = {"Click <1>Save</1> to keep your <2/>changes.": "Klicken Sie auf <1>Speichern</1>, um <2/>zu sichern.",
              "Open <1/>the help<2/> or <3/> now<4/>.": "Öffnen Sie <1/>die Hilfe<2/> jetzt.",  # lost <3/>, <4/>
              "Second <1>sentence</1>.": "Zweiter <1>Satz</1>."}
    result, out, _ = run(DATA / "inline-1.2.xlf", tmp_path, ScriptedTranslator(script))
    root = etree.parse(str(out)).getroot()
    bold = unit_xml(root, "bold")
    assert bold.find("x:target", NS1).attrib == {"state": "needs-review-translation", "state-qualifier": "leveraged-mt"}
    assert target_xml(bold) == ('Klicken Sie auf <g id="1" ctype="bold">Speichern</g>, um <x id="2" ctype="lb"/>'
                                'zu sichern.</target>')
    codes = unit_xml(root, "codes")
    assert target_xml(codes) == ('Öffnen Sie <bpt id="3">&lt;a href="x"&gt;</bpt>die Hilfe<ept id="3">&lt;/a&gt;'
                                 '</ept> jetzt.<ph id="4">{0}<sub>tooltip</sub></ph><it id="5" pos="open">&lt;i&gt;'
                                 '</it></target>')
    assert codes.find("x:note[@from='bayling-cat']", NS1).text.startswith("machine translation to review: inline codes")
    assert [s.flags for s in result.segments if s.key == "codes"] == [["codes-repaired"]]
    seg = unit_xml(root, "segmented")
    assert target_xml(seg) == ('<mrk mtype="seg" mid="1">[de] First sentence.</mrk> <mrk mtype="seg" mid="2">'
                               'Zweiter <g id="8">Satz</g>.</mrk></target>')
    space = unit_xml(root, "space")
    assert space.find("x:target", NS1).text == "  [de] Leading and trailing spaces  "
    number = unit_xml(root, "number")
    assert number.find("x:target", NS1).get("state-qualifier") == "x-bayling-cat-copy"
    assert target_xml(number) == '3.14 <x id="7"/> (%)</target>'
    for untouched in ("done", "final", "has-target", "locked", "in-group", "empty"):
        original = unit_xml(etree.parse(str(DATA / "inline-1.2.xlf")).getroot(), untouched)
        assert etree.tostring(unit_xml(root, untouched)) == etree.tostring(original)


def test_untouched_bytes_survive_translation(tmp_path):
    """Outside the units bayling-cat wrote, the output is the input byte for byte."""
    original = (DATA / "inline-1.2.xlf").read_bytes()
    _, out, _ = run(DATA / "inline-1.2.xlf", tmp_path)
    written = out.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?>\n<!-- exported by a CAT tool -->")
    head = original.split(b'<trans-unit id="bold"')[0]
    assert written.startswith(head)  # header, skeleton, foreign elements and single quotes untouched
    for kept in (b'<trans-unit id="done" approved="yes">', b"<?acme-pi keep me?>", b"acme:batch='7'",
                 b"</xliff>\n<!-- end -->\n", b'<alt-trans origin="tm" match-quality="75">'):
        assert kept in written


def test_suggest_mode_writes_alt_trans_and_leaves_targets(tmp_path):
    result, out, _ = run(DATA / "inline-1.2.xlf", tmp_path, mode="suggest")
    root = etree.parse(str(out)).getroot()
    bold = unit_xml(root, "bold")
    assert bold.find("x:target", NS1) is None
    [alt] = bold.findall("x:alt-trans", NS1)
    assert alt.get("origin") == "bayling-cat"
    assert target_xml(alt) == '[de] Click <g id="1" ctype="bold">Save</g> to keep your <x id="2" ctype="lb"/>changes.</target>'
    seg_alts = unit_xml(root, "segmented").findall("x:alt-trans", NS1)
    assert [a.get("mid") for a in seg_alts] == ["1", "2"]
    assert unit_xml(root, "has-target").find("x:target", NS1).text == "Vorhandener Text."


def test_overwrite_translates_existing_targets_but_never_final_or_approved(tmp_path):
    result, out, _ = run(DATA / "inline-1.2.xlf", tmp_path, overwrite=True)
    actions = {s.key: s.action for s in result.segments}
    assert actions["has-target"] == "translated"
    assert actions["done"] == actions["final"] == "skipped"


# -- XLIFF 2 ------------------------------------------------------------------------------------------

def test_xliff2_codes_states_and_translate_inheritance(tmp_path):
    script = {"Hello <1/>, click <2>here</2>.": "Bonjour, cliquez <2>ici</2>.",  # loses canDelete="no" <1/>
              "Use <1/> and <2/>bold<3/> text<4/>.": "Utilisez <1/> et <2/>gras<3/> texte<4/>."}
    result, out, _ = run(DATA / "inline-2.0.xlf", tmp_path, ScriptedTranslator(script))
    assert {s.key: s.action for s in result.segments} == {
        "u1/s1": "flagged", "u1/s2": "translated", "u2/1": "skipped", "u2/2": "skipped", "u2/3": "translated",
        "u3/1": "skipped", "u4/1": "translated", "u5/1": "translated"}
    root = etree.parse(str(out)).getroot()
    s1 = root.xpath("//x:segment[@id='s1']", namespaces=NS2)[0]
    assert (s1.get("state"), s1.get("subState")) == ("translated", "bayling-cat:mt")
    assert target_xml(s1, NS2) == ('Bonjour, cliquez <pc id="2" dataRefStart="d1" dataRefEnd="d2">ici</pc>.'
                                   '<ph id="1" dataRef="d3" canDelete="no"/></target>')
    s2 = root.xpath("//x:segment[@id='s2']", namespaces=NS2)[0]
    assert target_xml(s2, NS2) == ('Utilisez <mrk id="m1" translate="no">ACME</mrk> et <sc id="3" dataRef="d1"/>gras'
                                   '<ec startRef="3" dataRef="d2"/> texte<cp hex="0007"/>.</target>')
    note = root.xpath("//x:unit[@id='u1']/x:notes/x:note[@category='bayling-cat']", namespaces=NS2)[0]
    assert note.text.startswith("segment s1: machine translation to review: inline codes")
    assert root.xpath("//x:unit[@id='u3']//x:target", namespaces=NS2) == []
    u5 = root.xpath("//x:unit[@id='u5']//x:target", namespaces=NS2)[0]
    assert u5.text == "[fr] Text in <CDATA>."


def test_xliff2_suggest_mode_uses_the_matches_module(tmp_path):
    _, out, _ = run(DATA / "inline-2.0.xlf", tmp_path, mode="suggest")
    root = etree.parse(str(out)).getroot()
    u1 = root.xpath("//x:unit[@id='u1']", namespaces=NS2)[0]
    assert etree.QName(u1[0]).localname == "matches"  # module elements come first in a unit
    matches = u1.findall("mtc:matches/mtc:match", NS2)
    assert [(m.get("ref"), m.get("type"), m.get("origin")) for m in matches] == \
        [("#s1", "mt", "bayling-cat"), ("#s2", "mt", "bayling-cat")]
    assert root.xpath("//x:segment[@id='s1']/x:target", namespaces=NS2) == []


# -- SDLXLIFF and MQXLIFF -----------------------------------------------------------------------------

def test_sdlxliff_segments_status_and_locks(tmp_path):
    result, out, _ = run(DATA / "trados.sdlxliff", tmp_path)
    assert result.format == "sdlxliff"
    assert {s.key: (s.action, s.flags) for s in result.segments} == {
        "a1:1": ("translated", []), "a1:2": ("translated", []), "a2:3": ("skipped", ["locked"]),
        "a3:4": ("skipped", ["confirmed (Translated)"]), "a4:5": ("translated", []), "s1": ("skipped", ["translate=no"])}
    root = etree.parse(str(out)).getroot()
    a1 = unit_xml(root, "a1", SDL)
    assert target_xml(a1, SDL) == ('<mrk mtype="seg" mid="1">[de-DE] Press <g id="1">Enter</g>.</mrk> '
                                   '<mrk mtype="seg" mid="2">[de-DE] Then wait.</mrk></target>')
    segs = {s.get("id"): dict(s.attrib) for s in root.iterfind(".//sdl:seg", SDL)}
    assert segs["1"] == {"id": "1", "conf": "Draft", "origin": "mt", "origin-system": "bayling-cat"}
    assert segs["3"] == {"id": "3", "conf": "Translated", "locked": "true", "origin": "interactive"}
    assert segs["4"]["percent"] == "100"
    a4 = unit_xml(root, "a4", SDL)
    assert target_xml(a4, SDL) == '<mrk mtype="seg" mid="5">[de-DE] No target yet.</mrk></target>'
    original = (DATA / "trados.sdlxliff").read_bytes()
    for line in (2, 3):  # the locked and confirmed units, byte for byte
        assert original.split(b"\n")[line] in out.read_bytes()


def test_mqxliff_status_and_locks(tmp_path):
    result, out, _ = run(DATA / "memoq.mqxliff", tmp_path)
    assert result.format == "mqxliff"
    assert {s.key: s.action for s in result.segments} == {"1": "translated", "2": "skipped", "3": "skipped",
                                                           "4": "translated"}
    root = etree.parse(str(out)).getroot()
    mq = "{MQXliff}status"
    assert [u.get(mq) for u in root.iter("{%s}trans-unit" % NS1["x"])] == \
        ["PreTranslated", "Proofread", "ManuallyConfirmed", "PreTranslated"]
    assert target_xml(unit_xml(root, "4")) == '[de] Click <bpt id="1">&lt;b&gt;</bpt>OK<ept id="1">&lt;/b&gt;</ept>.</target>'


# -- fidelity on real files ---------------------------------------------------------------------------

def corpus_files(*folders):
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus is absent"))]
    return [pytest.param(p, id=p.name) for folder in folders for p in sorted((CORPUS / folder).iterdir())]


def _malformed(param) -> bool:
    return param.values[0] is not None and ("MALFORMED" in param.values[0].name
                                            or "invalid_xml_entity" in param.values[0].name)


ALL_XLIFF = corpus_files("xliff12", "xliff2", "sdlxliff", "mqxliff")
WELL_FORMED_XLIFF = [p for p in ALL_XLIFF if not _malformed(p)]
MALFORMED_XLIFF = [p for p in ALL_XLIFF if _malformed(p)] or ALL_XLIFF[:1]


@pytest.mark.parametrize("path", WELL_FORMED_XLIFF)
def test_corpus_round_trip_is_the_same_xml(path):
    data = path.read_bytes()
    connector = open_document(path)
    assert connector.serialize() == data  # nothing changed: nothing rewritten
    rewritten = connector.xml.serialize_root()
    # the same XML, except that a raw line break in an attribute value is kept as a line break (&#10;), not
    # turned into the space XML would read (issue 10, item 20)
    assert c14n(rewritten) == c14n(_escape_attribute_breaks(data))
    prolog = connector.xml._bounds[0]
    assert prolog > 0 or not data.startswith((b"<?", b"\xef"))
    assert rewritten[:prolog] == data[:prolog]  # BOM, XML declaration, comments, DOCTYPE byte for byte


@pytest.mark.parametrize("path", WELL_FORMED_XLIFF)
def test_corpus_translation_loses_nothing(path, tmp_path):
    connector = open_document(path)
    needs_target = not connector.target_lang or connector.target_lang == connector.source_lang
    if needs_target:
        result, _, _ = run(path, tmp_path)
        assert result.error and ("no target language" in result.error or "both" in result.error)
    result, out, _ = run(path, tmp_path, target_lang="fr" if needs_target else None)
    assert result.error is None, result.error
    before = etree.parse(str(path)).getroot()
    after = etree.parse(str(out)).getroot()
    sources = lambda root: [etree.tostring(s, with_tail=False) for s in root.iter("{*}source", "{*}seg-source", "source")  # noqa: E731
                            if etree.QName(s.getparent()).localname in ("trans-unit", "segment")]
    assert sources(after) == sources(before)
    ours = {"target", "note", "notes", "alt-trans", "matches", "match", "seg", "seg-defs"}
    count = lambda root: {t: n for t, n in _tag_counts(root).items()  # noqa: E731
                          if etree.QName(t).localname not in ours}
    assert count(after) == count(before)
    written = [s for s in result.segments if s.translation is not None]
    assert len(written) == sum(1 for s in result.segments if s.action in ("translated", "copied")) + \
        sum(1 for s in result.segments if s.action == "flagged" and s.translation is not None)


def _tag_counts(root):
    counts = {}
    for el in root.iter():
        if isinstance(el.tag, str) and not any(
                isinstance(a.tag, str) and etree.QName(a).localname in ("target", "alt-trans", "matches", "notes")
                for a in el.iterancestors()):
            counts[el.tag] = counts.get(el.tag, 0) + 1
    return counts


@pytest.mark.parametrize("path", MALFORMED_XLIFF)
def test_corpus_malformed_files_are_refused_cleanly(path, tmp_path):
    result, out, translator = run(path, tmp_path)
    assert result.error and str(path) in result.error and "\n" not in result.error
    assert not out.exists() and translator.calls == []


# -- refusing bad input -------------------------------------------------------------------------------

BAD = {
    "not-xml.xlf": (b"this is not XML", "not an XML file"),
    "broken.xlf": (b'<xliff version="1.2"><file><body><trans-unit id="1"><source>x</trans-unit>', "line 1"),
    "html.xlf": (b"<html><body/></html>", "not an XLIFF file (the root element is <html>)"),
    "v3.xlf": (b'<xliff version="3.0" xmlns="urn:oasis:names:tc:xliff:document:3.0"/>', "unknown XLIFF version '3.0'"),
    "lol.xlf": (b'<?xml version="1.0"?><!DOCTYPE xliff [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                b'<xliff version="1.2"><file source-language="en" target-language="de"><body><trans-unit id="1">'
                b'<source>&b;</source></trans-unit></body></file></xliff>', "entity declarations are refused"),
    "xxe.xlf": (b'<?xml version="1.0"?><!DOCTYPE xliff [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<xliff version="1.2"><file source-language="en" target-language="de"><body><trans-unit id="1">'
                b'<source>&x;</source></trans-unit></body></file></xliff>', "entity declarations are refused"),
    "nolang.xlf": (b'<xliff version="1.2"><file source-language="en"><body><trans-unit id="1"><source>Hi</source>'
                   b'</trans-unit></body></file></xliff>', "names no target language; pass --target-lang"),
    "zip.xlf": (b"PK\x03\x04rest", "a damaged or truncated ZIP package"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_get_one_clear_line_and_no_output(name, tmp_path):
    data, message = BAD[name]
    path = tmp_path / name
    path.write_bytes(data)
    result, out, translator = run(path, tmp_path)
    assert result.error and message in result.error and str(path) in result.error
    assert not out.exists() and translator.calls == []


def test_a_bad_file_does_not_stop_the_others(tmp_path):
    bad = tmp_path / "bad.xlf"
    bad.write_bytes(b"<xliff")
    good = tmp_path / "good.xlf"
    good.write_bytes((DATA / "memoq.mqxliff").read_bytes())
    results = Pipeline(ScriptedTranslator(), Options(output=tmp_path / "out", checks=False)).run([str(bad), str(good)])
    assert results[0].error and results[1].error is None
    assert (tmp_path / "out" / "good.xlf").is_file() and not (tmp_path / "out" / "bad.xlf").exists()


def test_target_language_from_the_command_line_fills_a_file_without_one(tmp_path):
    path = tmp_path / "nolang.xlf"
    path.write_bytes(BAD["nolang.xlf"][0])
    result, out, translator = run(path, tmp_path, target_lang="de")
    assert result.error is None and translator.calls[0][2] == "de"
    assert etree.parse(str(out)).getroot().find("file").get("target-language") == "de"


def test_xml_document_refuses_entities_even_without_a_doctype_name():
    with pytest.raises(DocumentError, match="line 1"):
        XmlDocument("x.xlf", b'<!DOCTYPE x [<!ENTITY y "z">]><xliff/>')


def test_report_json(tmp_path):
    from bayling_cat.pipeline import report

    results = Pipeline(ScriptedTranslator(flags={"Then wait.": ["repetition"]}),
                       Options(output=tmp_path / "o.sdlxliff", checks=False)).run([str(DATA / "trados.sdlxliff")])
    data = json.loads(json.dumps(report(results, 1.5, "test-model")))
    assert data["totals"] == {"files": 1, "failed_files": 0, "segments": 6, "translated": 2, "copied": 0,
                              "skipped": 3, "flagged": 1, "not_written": 1, "from_memory": 0, "check_failures": 0}
    segs = {s["id"]: s for s in data["files"][0]["segments"]}
    assert segs["a1:2"] == {"id": "a1:2", "action": "flagged", "reason": None, "flags": ["repetition"],
                            "written": False, "source": "Then wait.", "translation": None}
    assert segs["a2:3"]["reason"] == "locked"
    root = etree.parse(str(tmp_path / "o.sdlxliff")).getroot()
    assert target_xml(unit_xml(root, "a1", SDL)).endswith('<mrk mtype="seg" mid="2"/></target>')


# -- issue 25, item 29: bytes outside what is written stay as they were ----------------------------------------

XLIFF2_UNTOUCHED = """<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0"   version='2.0'
       srcLang="en">
  <file id='f1'>
    <unit id="u1"><segment><source>Hello <pc id='1' dispStart="&lt;b>">world</pc>.</source></segment></unit>
    <unit id="u2" translate="no"><segment><source>Keep <ph id='2' isolated='yes' disp="&lt;br>"/> me</source></segment></unit>
    <unit id="u3"><segment state="final"><source>Done</source><target>Fertig</target></segment></unit>
  </file>
</xliff>
"""


def test_xliff2_units_not_written_and_the_root_tag_keep_their_bytes(tmp_path):
    """Adding trgLang rewrote the whole root: units that were not written came back re-serialised
    (isolated='yes' double-quoted, dispStart="&lt;b>" as &lt;b&gt;). Now only the root's start tag gains the
    attribute, and only the units written are re-serialised."""
    src = tmp_path / "a.xlf"
    src.write_text(XLIFF2_UNTOUCHED, encoding="utf-8")
    result, out, _ = run(src, tmp_path, ScriptedTranslator({"Hello <1>world</1>.": "Hallo <1>Welt</1>."}),
                         target_lang="de")
    assert result.error is None
    data = out.read_text("utf-8")
    original = XLIFF2_UNTOUCHED
    assert data.startswith(original.split("<xliff", 1)[0] + '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0"   '
                           "version='2.0'\n       srcLang=\"en\" trgLang=\"de\">")
    for unit in ('<unit id="u2"', '<unit id="u3"'):  # not written: byte for byte
        line = next(l for l in original.splitlines() if unit in l)
        assert line in data.splitlines()
    assert "Hallo <pc" in data and 'dispStart="&lt;b&gt;"' in data  # the written unit: lxml's serialisation
    assert data.endswith("  </file>\n</xliff>\n")
    # a file already in another target language, re-declared: the attribute's value changes in place
    src.write_text(XLIFF2_UNTOUCHED.replace('srcLang="en"', "srcLang=\"en\" trgLang='fr'")
                   .replace("<target>Fertig</target>", ""), encoding="utf-8")
    result, out, _ = run(src, tmp_path / "again", target_lang="de")
    assert result.error is None and "srcLang=\"en\" trgLang='de'>" in out.read_text("utf-8")
