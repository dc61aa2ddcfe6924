"""Glossaries: loading every format, matching, checking, the revision conversation, the report."""

import json
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.glossary import Glossary, GlossaryError, Term, find, load
from bayling_cat.pipeline import Options, Pipeline, report
from bayling_cat.revision import TermTranslator
from bayling_cat.templates import PromptTemplate
from tests.conftest import ROOT, SHARED
from tests.fakes import FakeEngine

GLOSSARIES = ROOT / "glossaries"
DE = GLOSSARIES / "software-ui.en-de.tbx"
ZH = GLOSSARIES / "software-ui.en-zh.csv"
TBX = SHARED / "corpus" / "tbx"


# -- loading ----------------------------------------------------------------------------------------

def test_shipped_glossaries():
    de = load(DE, "en", "de")
    by = {t.source: t for t in de.terms}
    assert len(de) == 40
    assert by["folder"].targets == ["Ordner", "Verzeichnis"]  # preferred, then admitted
    assert by["file"].forbidden == ["File", "Akte"]  # deprecatedTerm
    assert by["GitHub"].dnt and by["GitHub"].targets == []  # "Translation needed: No"
    zh = load(ZH, "en", "zh-CN")
    by = {t.source: t for t in zh.terms}
    assert by["account"].targets == ["帐户", "账户"] and by["save"].forbidden == ["存储"]
    assert by["PDF"].dnt and by["PDF"].case_sensitive
    assert load(ZH, "en-US", "zh").fingerprint == zh.fingerprint  # language variants accepted


@pytest.mark.parametrize("name,src,tgt,count", [
    ("okapi_lisa_ibm.tbx", "en", "fr", 5), ("okapi_lisa_maryland.tbx", "en", "es", 1),
    ("okapi_lisa_oracle.tbx", "en", "pt", 1), ("okapi_test01_tig.tbx", "en", "hu", 1),
    ("weblate_cs.tbx", "en", "cs", 3), ("ltac_tbx3_basic_astronomy_dca.tbx", "en", "es", 40),
    ("okapi_lisa_medtronic.tbx", "en", "fr", 1), ("okapi_test02_windows-1254.tbx", "en", "tr", 1),
])
def test_corpus_tbx(name, src, tgt, count):
    path = TBX / name
    if not path.exists():
        pytest.skip("../shared/corpus is absent")
    glossary = load(path, src, tgt)
    assert len(glossary) >= count


def test_corpus_tbx_kinds():
    path = TBX / "weblate_fr-extended-metadata.tbx"
    if not path.exists():
        pytest.skip("../shared/corpus is absent")
    by = {t.source: t for t in load(path, "en", "fr").terms}
    assert any(t.dnt for t in by.values())  # "Translation needed" = No


def test_glossary_errors(tmp_path):
    with pytest.raises(GlossaryError, match=r"software-ui.en-de.tbx: no en -> ja terms \(languages in the file: de, en\)"):
        load(DE, "en", "ja")
    broken = tmp_path / "broken.tbx"
    broken.write_text("<martif><text><body><termEntry></body></martif>")
    with pytest.raises(GlossaryError, match=r"broken.tbx: line 1, column \d+: not well-formed XML"):
        load(broken, "en", "de")
    csv = tmp_path / "terms.csv"
    csv.write_text("english,french\nfile,fichier\n")
    with pytest.raises(GlossaryError, match="terms.csv: line 1: the header names no en column"):
        load(csv, "en", "fr")
    csv.write_text("en,de\nfile,Datei\nfolder\n")
    with pytest.raises(GlossaryError, match="terms.csv: line 3: 1 columns, the header has 2"):
        load(csv, "en", "de")
    tsv = tmp_path / "terms.tsv"
    tsv.write_text("en\tde\tstatus\nfile\tDatei\t\nfile\tAkte\tforbidden\n")
    [term] = load(tsv, "en", "de").terms
    assert (term.targets, term.forbidden) == (["Datei"], ["Akte"])
    entity = tmp_path / "lol.tbx"
    entity.write_text('<!DOCTYPE martif [<!ENTITY a "b">]><martif/>')
    with pytest.raises(GlossaryError, match="entity declarations are refused"):
        load(entity, "en", "de")


# -- matching and checking --------------------------------------------------------------------------

def test_matching_longest_first_inflections_case_and_codes():
    g = load(DE, "en", "de")
    found = [(m.text, m.term.source) for m in g.match("Click <1>Save As</1> to save both files; see the User Guide.")]
    assert found == [("Save As", "save as"), ("save", "save"), ("files", "file"), ("User Guide", "user guide")]
    zh = load(ZH, "en", "zh-CN")
    assert [m.text for m in zh.match("Export as <1/> PDF, not pdf.")] == ["PDF"]  # case-sensitive entry
    assert [m.text for m in g.match("Export as PDF, not pdf.")] == ["PDF", "pdf"]  # this one is not
    assert g.match("Open <2/>") and not g.match("<12/> <3/>")  # placeholders are never terms


def test_matching_chinese_has_no_word_boundaries():
    g = Glossary([Term("文件", ["file"]), Term("文件夹", ["folder"])], "zh-CN", "en")
    assert [m.text for m in g.match("请把文件保存到文件夹。")] == ["文件", "文件夹"]
    assert find("保存到文件夹", "文件夹", "zh-CN") == [(3, 6)]


def test_check_required_forbidden_and_dnt():
    g = load(DE, "en", "de")
    source = "Save the files to GitHub."
    good = g.check(source, "Speichern Sie die Dateien auf GitHub.")
    assert good.violations == 0 and {t.source for t in good.present} == {"save", "file", "GitHub"}
    bad = g.check(source, "Sichern Sie die Akten auf Github.")
    assert bad.describe() == ["'save' must be translated as 'speichern'", "'file' must be translated as 'Datei'",
                              "'GitHub' must stay 'GitHub'", "do not use 'Akte' (use 'Datei')",
                              "do not use 'sichern' (use 'speichern')"]


# -- the revision conversation ----------------------------------------------------------------------

def test_first_turn_carries_terms_dnt_and_bans():
    engine = FakeEngine(lambda conv: "Speichern Sie die Datei auf <3/>.")
    tt = TermTranslator(engine, {("en", "de"): load(DE, "en", "de")})
    [gen] = tt.translate(["Save the file to <1/> GitHub<2/>."], "en", "de")
    first = engine.conversations[0][0].content
    assert "Use these glossary terms: save = speichern; file = Datei." in first
    assert first.endswith("Save the file to <1/> <3/><2/>.")  # GitHub protected like a code
    assert gen.text == "Speichern Sie die Datei auf GitHub." and gen.terms.violated == []
    assert ["Akte"] in engine.suppressed[0] and ["sichern"] in engine.suppressed[0]
    assert gen.terms.revisions == 0 and len(engine.conversations) == 1  # satisfied: no revision turn


def test_revision_turns_follow_the_conversation_and_stop_at_n():
    answers = iter(["Sichern Sie die Akte.", "Sichern Sie die Datei.", "Sichere die Akte."])
    engine = FakeEngine(lambda conv: next(answers), template="bayling")
    engine.template = PromptTemplate("bayling")
    tt = TermTranslator(engine, {("en", "de"): load(DE, "en", "de")}, max_revisions=2)
    [gen] = tt.translate(["Save the file."], "en", "de")
    assert gen.terms.revisions == 2 and len(engine.conversations) == 3
    # the best candidate seen ("Sichern Sie die Datei.", one violation), its forbidden word then replaced
    assert gen.text == "Speichern Sie die Datei." and "term-substituted" in gen.flags
    assert gen.terms.violated == []
    system = ("I am an intelligent language assistant developed by the NLP Group of ICT/CAS.\nBelow is a dialog "
              "consisting of instructions and responses. Write a response that completes the request.\n\n")
    assert PromptTemplate("bayling").render(engine.conversations[1]) == system + (
        "### Instruction:\nProvide the German translation for this sentence: Save the file.\n"
        "Make sure to include these words: speichern, Datei\n"
        "### Response:\nSichern Sie die Akte.</s>\n"
        "### Instruction:\nIn your translation, 'save' must be translated as 'speichern'; 'file' must be "
        "translated as 'Datei'; do not use 'Akte' (use 'Datei'); do not use 'sichern' (use 'speichern'). Reply "
        "with the corrected translation only.\n"
        "### Response:\n")
    assert PromptTemplate("bayling-llama3").render(engine.conversations[1]).endswith(
        "<|start_header_id|>assistant<|end_header_id|>\n\nSichern Sie die Akte.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nIn your translation, 'save' must be translated as "
        "'speichern'; 'file' must be translated as 'Datei'; do not use 'Akte' (use 'Datei'); do not use 'sichern' "
        "(use 'speichern'). Reply with the corrected translation only.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_an_echo_of_the_instructions_is_not_a_translation():
    answers = iter(["Sichern Sie es.", "In your translation, 'save' must be translated as 'speichern'"])
    tt = TermTranslator(FakeEngine(lambda conv: next(answers)), {("en", "de"): load(DE, "en", "de")},
                        max_revisions=1)
    [gen] = tt.translate(["Save it."], "en", "de")
    assert gen.text == "Speichern Sie es."  # the first answer, not the echo (with "sichern" replaced)


def test_last_resort_forces_the_missing_term():
    def answer(conv):
        text = conv[-1].content.rsplit("\n\n", 1)[-1]
        return "Öffnen Sie <1/>." if "<1/>" in text else "Öffnen Sie die Akte."

    tt = TermTranslator(FakeEngine(answer), {("en", "de"): load(DE, "en", "de")}, max_revisions=1,
                        term_strategy="force")
    [gen] = tt.translate(["Open the file."], "en", "de")
    assert gen.text == "Öffnen Sie Datei." and gen.terms.forced and gen.terms.violated == []


# -- through the pipeline: notes, states, report ---------------------------------------------------

XLF = (ROOT / "tests" / "data" / "file-terms.xlf").read_bytes()  # three units: two with glossary terms


def test_pipeline_notes_and_report(tmp_path):
    replies = {"Save the file.": "Speichern Sie die Datei.", "Delete the file.": "Löschen Sie das Dokument.",
               "No terms here.": "Keine Begriffe."}
    engine = FakeEngine(lambda conv: replies[conv[0].content.rsplit("\n\n", 1)[-1]])
    path = tmp_path / "in.xlf"
    path.write_bytes(XLF)
    run = Pipeline(engine, Options(output=tmp_path / "out.xlf", glossaries=[DE], max_revisions=1, checks=False))
    results = run.run([str(path)])
    data = json.loads(json.dumps(report(results, 1.0, "fake")))
    segs = {s["id"]: s for s in data["files"][0]["segments"]}
    assert segs["1"]["terms"] == {"matched": ["save", "file"], "applied": ["save -> speichern", "file -> Datei"],
                                  "violated": [], "revisions": 0, "forced": False}
    assert segs["2"]["terms"]["violated"] == ["'file' must be translated as 'Datei'"]
    assert segs["2"]["terms"]["revisions"] == 1
    assert segs["3"]["terms"]["matched"] == []
    assert data["files"][0]["terminology"] == {
        "segments_with_terms": 2, "required": 4, "present": 3, "term_success_rate": 0.75, "forbidden_hits": 0,
        "revision_turns": 1, "forced": 0, "consistency": 1.0, "inconsistent_terms": {}}
    root = etree.parse(str(tmp_path / "out.xlf")).getroot()
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    notes = {u.get("id"): [n.text for n in u.findall("x:note", ns)] for u in root.iterfind(".//x:trans-unit", ns)}
    assert notes["1"] == ["terms applied: save -> speichern, file -> Datei"]
    assert notes["2"] == ["terms applied: delete -> löschen; terminology to check: 'file' must be translated as "
                          "'Datei'"]
    assert notes["3"] == []


def test_pipeline_glossary_with_the_wrong_languages_stops_the_run(tmp_path):
    path = tmp_path / "in.xlf"
    path.write_bytes(XLF.replace(b'target-language="de"', b'target-language="ja"'))
    engine = FakeEngine(lambda conv: "x")
    with pytest.raises(GlossaryError, match="no en -> ja terms"):
        Pipeline(engine, Options(output=tmp_path / "o.xlf", glossaries=[DE])).run([str(path)])
    assert not (tmp_path / "o.xlf").exists() and engine.conversations == []


def test_inconsistent_translations_are_reported(tmp_path):
    xlf = XLF.replace(b"Delete the file.", b"Delete the folder.").replace(b"No terms here.", b"Open the folder.")
    replies = {"Save the file.": "Datei speichern.", "Delete the folder.": "Ordner löschen.",
               "Open the folder.": "Verzeichnis öffnen."}
    path = tmp_path / "in.xlf"
    path.write_bytes(xlf)
    tbx = tmp_path / "g.csv"
    tbx.write_text("en,de,status\nfile,Datei,\nfolder,Ordner,\nfolder,Verzeichnis,admitted\n")
    engine = FakeEngine(lambda conv: replies[conv[0].content.rsplit("\n\n", 1)[-1]])
    results = Pipeline(engine, Options(output=tmp_path / "o.xlf", glossaries=[tbx], checks=False)).run([str(path)])
    totals = report(results, 1.0, "fake")["files"][0]["terminology"]
    assert totals["inconsistent_terms"] == {"folder": ["Ordner", "Verzeichnis"]}
    assert totals["consistency"] == 0.5


def test_check_command_reports_any_translated_file(tmp_path):
    from tests.conftest import run_cli

    xlf = tmp_path / "done.xlf"
    xlf.write_bytes(XLF.replace(b"<source>Save the file.</source>",
                                b"<source>Save the file.</source><target>Sichern Sie die Datei.</target>")
                    .replace(b"<source>Delete the file.</source>",
                             b"<source>Delete the file.</source><target>L\xc3\xb6schen Sie die Datei.</target>"))
    out = tmp_path / "check.json"
    result = run_cli(["check", str(xlf), "--glossary", str(DE), "--report", str(out)])
    assert result.returncode == 0, result.stderr
    assert "unit 1: do not use 'sichern' (use 'speichern')" in result.stdout
    assert "term success rate 75.0% (3 of 4), forbidden terms 1" in result.stdout
    data = json.loads(out.read_text())
    assert data["files"][0]["terminology"]["term_success_rate"] == 0.75
    assert Path(xlf).read_bytes().count(b"<target>") == 2  # checking never writes


def test_revise_command_accepts_a_revision_into_the_file(tmp_path, tiny_model):
    from tests.conftest import run_cli

    xlf = tmp_path / "rev.xlf"
    xlf.write_bytes(XLF)
    env = {"BAYLING_CAT_HOME": str(tmp_path / "home"), "BAYLING_CAT_MODEL": str(tiny_model)}
    result = run_cli(["revise", str(xlf), "--segment", "2"], stdin="Make it shorter\nUse 'Datei'\na\n",
                     env_extra=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("revised: ") == 2 and "accepted" in result.stdout
    assert (tmp_path / "rev.xlf.bak").read_bytes() == XLF
    root = etree.parse(str(xlf)).getroot()
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    targets = {u.get("id"): u.find("x:target", ns) for u in root.iterfind(".//x:trans-unit", ns)}
    assert targets["1"] is None and targets["3"] is None
    assert targets["2"].get("state") == "needs-review-translation"
    last = [line for line in result.stdout.splitlines() if "revised: " in line][-1]
    assert targets["2"].text == last.split("revised: ", 1)[1].split("  [")[0]
    nothing = run_cli(["revise", str(xlf), "--segment", "3"], stdin="\n", env_extra=env)
    assert nothing.returncode == 0 and "nothing accepted; the file is unchanged" in nothing.stderr
    unknown = run_cli(["revise", str(xlf), "--segment", "nope"], stdin="", env_extra=env)
    assert unknown.returncode == 1 and "no segment 'nope' to revise" in unknown.stderr


def test_conversation_turns_render_as_one_dialog():
    from bayling_cat.revision import Conversation

    engine = FakeEngine(lambda conv: f"answer {len(conv)}")
    chat = Conversation("Save the file.", "Datei speichern.", "en", "de")
    chat.revise(engine, "More formal.")
    chat.revise(engine, "Shorter.")
    last = engine.conversations[-1]
    assert [(m.role, m.content) for m in last[1:]] == [
        ("assistant", "Datei speichern."), ("user", "More formal."), ("assistant", "answer 3"),
        ("user", "Shorter.")]
    assert chat.latest == "answer 5"


@pytest.mark.parametrize("kind", ["ctranslate2", "llamacpp"])
def test_banned_sequences_never_ban_a_preferred_term(kind, tiny_model, tiny_gguf):
    from tests.test_engine import load, sequence

    engine = load(kind, tiny_model, tiny_gguf)
    banned = engine.banned_sequences(["Save"], keep=["Save your changes"])
    assert banned == []  # every form of "Save" starts "Save your changes" somewhere
    banned = engine.banned_sequences(["closing"], keep=["Save"])
    assert banned and all(seq for seq in banned)
    assert sequence(engine, " closing") in banned


def test_a_forbidden_form_that_slips_through_is_replaced():
    answers = iter(["Sichern Sie die Akten.", "Sichern Sie die Akten.", "Sichern Sie die Akten."])
    tt = TermTranslator(FakeEngine(lambda conv: next(answers)), {("en", "de"): load(DE, "en", "de")})
    [gen] = tt.translate(["Save the files."], "en", "de")
    assert gen.text == "Speichern Sie die Datei." and "term-substituted" in gen.flags
    assert gen.terms.forbidden_hits == 0 and gen.terms.violated == []
    off = TermTranslator(FakeEngine(lambda conv: "Sichern Sie die Akten."), {("en", "de"): load(DE, "en", "de")},
                         max_revisions=0, ban_forbidden=False)
    [gen] = off.translate(["Save the files."], "en", "de")
    assert gen.terms.forbidden_hits == 2 and "term-substituted" not in gen.flags


def test_a_revision_turn_always_says_what_is_wrong():
    """The latest answer can have no violation yet not count (here: it echoes the instructions), while the best
    candidate still has violations: the next turn must name those, never an empty request."""
    answers = iter(["Sichern Sie die Akte.",
                    "Speichern Sie die Datei. 'save' must be translated as 'speichern'",
                    "Speichern Sie die Datei."])
    engine = FakeEngine(lambda conv: next(answers))
    tt = TermTranslator(engine, {("en", "de"): load(DE, "en", "de")}, max_revisions=2)
    [gen] = tt.translate(["Save the file."], "en", "de")
    requests = [c[-1].content for c in engine.conversations[1:]]
    assert len(requests) == 2
    assert all(not r.startswith("In your translation, .") for r in requests), requests
    assert "'file' must be translated as 'Datei'" in requests[1]  # what the best candidate still got wrong
    assert gen.text == "Speichern Sie die Datei." and gen.terms.violated == []
