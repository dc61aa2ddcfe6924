"""bayling-cat evaluate: reference readers, metrics against sacrebleu, variants, reports, the HTML page."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from sacrebleu.metrics import BLEU, CHRF, TER

from bayling_cat import evaluate as evaluation
from bayling_cat.errors import UserError
from bayling_cat.evaluate import references
from tests.conftest import SHARED, run_cli
from tests.fakes import ScriptedTranslator

SOURCES = ["The file could not be saved.", "Open the settings.", "Click Save to keep your changes.",
           "The printer is out of paper.", "Delete the selected files?"]
TARGETS = ["Die Datei konnte nicht gespeichert werden.", "Öffnen Sie die Einstellungen.",
           "Klicken Sie auf Speichern, um Ihre Änderungen zu behalten.", "Der Drucker hat kein Papier mehr.",
           "Die ausgewählten Dateien löschen?"]
ANSWERS = {SOURCES[0]: "Die Datei konnte nicht gespeichert werden.",  # exact
           SOURCES[1]: "Öffnen Sie die Einstellungen",  # one character off
           SOURCES[2]: "Klicken Sie Speichern für Ihre Änderungen.",
           SOURCES[3]: "Drucker Papier nicht.",
           SOURCES[4]: "Löschen?"}


def text_pair(tmp_path, sources=SOURCES, targets=TARGETS):
    src, ref = tmp_path / "src.en.txt", tmp_path / "ref.de.txt"
    src.write_text("".join(s + "\n" for s in sources), encoding="utf-8")
    ref.write_text("".join(t + "\n" for t in targets), encoding="utf-8")
    return [str(src), str(ref)]


def run(paths, translator=None, **kw):
    kw.setdefault("source_lang", "en")
    kw.setdefault("target_lang", "de")
    engine = translator or ScriptedTranslator(ANSWERS)
    return evaluation.evaluate(evaluation.Settings(list(paths), **kw), lambda model: engine)


# -- metrics ------------------------------------------------------------------------------------------------

def test_metrics_equal_sacrebleu_called_directly(tmp_path):
    report = run(text_pair(tmp_path))
    [row] = report["rows"]
    hyps = [ANSWERS[s] for s in SOURCES]
    m = row["metrics"]
    assert m["bleu"] == BLEU().corpus_score(hyps, [TARGETS]).score
    assert m["chrf++"] == CHRF(word_order=2).corpus_score(hyps, [TARGETS]).score
    assert m["ter"] == TER().corpus_score(hyps, [TARGETS]).score
    assert m["segments"] == 5 and m["exact_match"] == 0.2 and m["within_5pct"] == 0.4
    bleu = BLEU()
    bleu.corpus_score(hyps, [TARGETS])
    assert report["signatures"]["BLEU"] == str(bleu.get_signature())
    assert report["signatures"]["chrF2++"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:2")
    by_source = {s["source"]: s for s in row["segments"]}
    for source, target in zip(SOURCES, TARGETS):
        assert by_source[source]["chrf"] == CHRF().sentence_score(ANSWERS[source], [target]).score
        assert by_source[source]["reference"] == target and by_source[source]["hypothesis"] == ANSWERS[source]
    assert by_source[SOURCES[1]]["edit_distance"] == pytest.approx(1 / len(TARGETS[1]))
    chrfs = [s["chrf"] for s in row["segments"]]
    assert chrfs == sorted(chrfs) and row["segments"][-1]["source"] == SOURCES[0]  # worst first


def test_chinese_target_uses_sacrebleus_chinese_tokenizer(tmp_path):
    paths = text_pair(tmp_path, ["The file was saved."], ["文件已保存。"])
    report = run(paths, ScriptedTranslator({"The file was saved.": "文件保存了。"}), target_lang="zh")
    assert report["rows"][0]["metrics"]["bleu"] == BLEU(tokenize="zh").corpus_score(["文件保存了。"],
                                                                                   [["文件已保存。"]]).score
    assert "tok:zh" in report["signatures"]["BLEU"] and "asian:yes" in report["signatures"]["TER"]


def test_duplicate_sources_are_translated_once(tmp_path):
    engine = ScriptedTranslator(ANSWERS)
    run(text_pair(tmp_path, SOURCES + SOURCES[:2], TARGETS + TARGETS[:2]), engine)
    assert [len(c[0]) for c in engine.calls] == [5]


# -- readers ------------------------------------------------------------------------------------------------

XLIFF12 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
 <file original="app" source-language="en" target-language="de" datatype="plaintext"><body>
  <trans-unit id="1" approved="yes"><source>Save the <g id="b">file</g> now.</source>
   <target>Speichern Sie die <g id="b">Datei</g> jetzt.</target></trans-unit>
  <trans-unit id="2"><source>Open the settings.</source>
   <target state="final">Öffnen Sie die Einstellungen.</target></trans-unit>
  <trans-unit id="3"><source>Delete it?</source><target state="translated">Löschen?</target></trans-unit>
  <trans-unit id="4"><source>Close it.</source><target state="needs-review-translation">Zu.</target></trans-unit>
  <trans-unit id="5" approved="yes"><source>Print it.</source><target></target></trans-unit>
  <trans-unit id="6" translate="no"><source>Brand</source><target>Brand</target></trans-unit>
 </body></file>
</xliff>
"""

XLIFF20 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="fr">
 <file id="f1">
  <unit id="u1"><segment state="final"><source>Hello <ph id="1"/>world</source>
   <target>Bonjour <ph id="1"/>monde</target></segment></unit>
  <unit id="u2"><segment state="translated"><source>Goodbye</source><target>Au revoir</target></segment></unit>
  <unit id="u3"><segment state="reviewed"><source>Thanks</source><target>Merci</target></segment></unit>
 </file>
</xliff>
"""

PO = r'''msgid ""
msgstr ""
"Language: de\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Open %s"
msgstr "%s öffnen"

#, fuzzy
msgid "Save all"
msgstr "Alles speichern"

msgid "Quit"
msgstr ""

msgid "%d file"
msgid_plural "%d files"
msgstr[0] "%d Datei"
msgstr[1] "%d Dateien"
'''

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="en" datatype="plaintext" segtype="sentence" adminlang="en"
 creationtool="t" creationtoolversion="1" o-tmf="t"/>
<body>
 <tu tuid="a"><tuv xml:lang="en"><seg>Save the <bpt i="1">&lt;b&gt;</bpt>file<ept i="1">&lt;/b&gt;</ept>.</seg></tuv>
  <tuv xml:lang="de-DE"><seg>Datei speichern.</seg></tuv><tuv xml:lang="fr"><seg>Enregistrer le fichier.</seg></tuv></tu>
 <tu tuid="b"><tuv xml:lang="en"><seg>Open</seg></tuv><tuv xml:lang="de-DE"><seg>Öffnen</seg></tuv></tu>
 <tu tuid="c"><tuv xml:lang="en"><seg>Empty</seg></tuv><tuv xml:lang="de-DE"><seg> </seg></tuv></tu>
</body></tmx>
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_xliff12_takes_approved_and_final_targets_only_with_codes(tmp_path):
    refs = references.read([write(tmp_path, "a.xlf", XLIFF12)])
    assert (refs.source_lang, refs.target_lang) == ("en", "de")
    assert [r.source for r in refs.references] == ["Save the <1>file</1> now.", "Open the settings."]
    assert refs.references[0].reference == "Speichern Sie die <1>Datei</1> jetzt."
    assert refs.files[0]["approved"] == 2


def test_xliff20_final_and_reviewed_not_translated(tmp_path):
    refs = references.read([write(tmp_path, "b.xlf", XLIFF20)])
    assert [(r.source, r.reference) for r in refs.references] == [("Hello <1/>world", "Bonjour <1/>monde"),
                                                                   ("Thanks", "Merci")]


def test_po_takes_translated_non_fuzzy_entries_and_protects_placeholders(tmp_path):
    refs = references.read([write(tmp_path, "de.po", PO)])
    assert [(r.source, r.reference) for r in refs.references] == [
        ("Open <1/>", "<1/> öffnen"), ("<1/> file", "<1/> Datei"), ("<1/> files", "<1/> Dateien")]
    assert refs.references[0].codes[1].literal == "%s" and refs.references[1].hint


def test_tmx_picks_the_target_language_and_drops_native_codes(tmp_path):
    path = write(tmp_path, "m.tmx", TMX)
    refs = references.read([path], target_lang="de")
    assert [(r.source, r.reference, r.target_lang) for r in refs.references] == [
        ("Save the file.", "Datei speichern.", "de-DE"), ("Open", "Öffnen", "de-DE")]
    assert [r.reference for r in references.read([path], target_lang="fr").references] == ["Enregistrer le fichier."]
    with pytest.raises(UserError, match="holds de-DE, fr besides en: choose one with --target-lang"):
        references.read([path])
    with pytest.raises(UserError, match=r"^no reference holds en -> ja: the files hold en -> de-DE, en -> fr$"):
        references.read([path], target_lang="ja")


def test_language_pair_the_files_do_not_hold(tmp_path):
    with pytest.raises(UserError, match=r"^no reference holds en -> it: the files hold en -> de$"):
        references.read([write(tmp_path, "a.xlf", XLIFF12)], "en", "it")


def test_a_folder_stands_for_its_reference_files(tmp_path):
    folder = tmp_path / "project"
    (folder / "sub").mkdir(parents=True)
    write(folder, "a.xlf", XLIFF12)
    write(folder / "sub", "de.po", PO)
    write(folder, "notes.txt", "not a reference")
    refs = references.read([str(folder)])
    assert [Path(f["path"]).name for f in refs.files] == ["a.xlf", "de.po"] and len(refs.references) == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: a folder without TMX, XLIFF or PO files"):
        references.read([str(tmp_path / "empty")])


def test_several_pairs_need_a_choice(tmp_path):
    paths = [write(tmp_path, "a.xlf", XLIFF12), write(tmp_path, "b.xlf", XLIFF20)]
    with pytest.raises(UserError, match=r"several language pairs \(en -> de, en -> fr\)"):
        references.read(paths)
    assert len(references.read(paths, "en", "fr").references) == 2


def test_zero_and_all_empty_references(tmp_path):
    unapproved = XLIFF12.replace('approved="yes"', "").replace('state="final"', 'state="translated"')
    with pytest.raises(UserError, match=r"^no approved translations in .*a\.xlf: only approved"):
        references.read([write(tmp_path, "a.xlf", unapproved)])
    with pytest.raises(UserError, match=r"^the references in .*ref.de.txt are all empty \(2 segments without a "
                                        r"target text\): nothing to compare with$"):
        references.read(text_pair(tmp_path, ["One", "Two"], ["", "  "]), "en", "de")
    empty_tmx = TMX.replace("Datei speichern.", "").replace("Öffnen", "").replace("Enregistrer le fichier.", "")
    with pytest.raises(UserError, match=r"are all empty \(3 segments"):
        references.read([write(tmp_path, "e.tmx", empty_tmx)], target_lang="de")
    approved_empty = XLIFF12.replace("<target>Speichern Sie die <g id=\"b\">Datei</g> jetzt.</target>", "<target/>")
    approved_empty = approved_empty.replace('state="final">Öffnen Sie die Einstellungen.', 'state="final">')
    with pytest.raises(UserError, match=r"are all empty \(3 segments"):
        references.read([write(tmp_path, "e.xlf", approved_empty)])


def test_text_pairs_of_unequal_length_are_one_clear_error(tmp_path):
    paths = text_pair(tmp_path, SOURCES, TARGETS[:4])
    with pytest.raises(UserError) as exc:
        references.read(paths, "en", "de")
    assert str(exc.value) == f"{paths[0]} has 5 lines and {paths[1]} has 4: a text pair needs one segment a " \
                             "line in both, line for line"
    with pytest.raises(UserError, match="needs its reference file right after it"):
        references.read(paths[:1], "en", "de")
    with pytest.raises(UserError, match="name no languages; pass --source-lang and --target-lang"):
        references.read(text_pair(tmp_path), None, None)


def test_sample_is_reproducible(tmp_path):
    sources = [f"Sentence number {i}." for i in range(50)]
    paths = text_pair(tmp_path, sources, [f"Satz Nummer {i}." for i in range(50)])
    first = [r.source for r in references.read(paths, "en", "de", sample=10, seed=7).references]
    again = [r.source for r in references.read(paths, "en", "de", sample=10, seed=7).references]
    other = [r.source for r in references.read(paths, "en", "de", sample=10, seed=8).references]
    assert first == again and first != other and len(set(first)) == 10
    assert first == sorted(first, key=sources.index)  # the files' order kept
    assert len(references.read(paths, "en", "de", sample=500).references) == 50


def test_corpus_approved_units(tmp_path):
    corpus = SHARED / "corpus"
    if not corpus.is_dir():
        pytest.skip("the real-file corpus is not here")
    refs = references.read([corpus / "po" / "allauth_django_fr.po"])
    assert refs.target_lang == "fr" and len(refs.references) == 378
    memoq = references.read([corpus / "mqxliff" / "memoqqa_warnings_sample.mqxliff"])
    assert [r.reference for r in memoq.references][:1] == ["Κουτί χρώματος:"]
    with pytest.raises(UserError, match="no approved translations"):
        references.read([corpus / "xliff12" / "mozilla_focus-ios_fr.xliff"])  # state=translated only


# -- codes, terms, variants ---------------------------------------------------------------------------------

def test_code_and_placeholder_accuracy(tmp_path):
    xlf = write(tmp_path, "a.xlf", XLIFF12)
    po = write(tmp_path, "de.po", PO)
    kept = ScriptedTranslator({"Save the <1>file</1> now.": "Speichern Sie die <1>Datei</1> jetzt."})
    lost = ScriptedTranslator({"Save the <1>file</1> now.": "Speichern Sie die Datei jetzt."})
    row = run([xlf], kept, source_lang=None, target_lang=None)["rows"][0]
    assert row["metrics"]["code_accuracy"] == 1.0 and row["metrics"]["code_segments"] == 1
    seg = next(s for s in row["segments"] if s["source"] == "Save the file now.")
    assert seg["hypothesis"] == "Speichern Sie die Datei jetzt." and seg["chrf"] == 100.0
    row = run([xlf], lost, source_lang=None, target_lang=None)["rows"][0]
    assert row["metrics"]["code_accuracy"] == 0.0
    assert "codes-repaired" in next(s for s in row["segments"] if s["source"] == "Save the file now.")["flags"]
    answers = {"Open <1/>": "<1/> öffnen", "<1/> file": "Datei", "<1/> files": "<1/> <1/> Dateien"}
    row = run([po], ScriptedTranslator(answers), source_lang=None, target_lang=None)["rows"][0]
    assert row["metrics"]["placeholder_accuracy"] == pytest.approx(1 / 3)
    assert row["metrics"]["code_accuracy"] is None
    assert {s["hypothesis"] for s in row["segments"]} == {"%s öffnen", "Datei", "%d %d Dateien"}


def test_terms_against_the_glossary_and_the_glossary_variant(tmp_path):
    glossary = tmp_path / "g.csv"
    glossary.write_text("en,de,status\nfile,Datei,\nfile,Akte,forbidden\nsettings,Einstellungen,\n", encoding="utf-8")
    answers = dict(ANSWERS, **{SOURCES[0]: "Die Akte konnte nicht gespeichert werden."})
    report = run(text_pair(tmp_path), ScriptedTranslator(answers), glossaries=[glossary])
    terms = report["rows"][0]["terminology"]
    # file (twice: 'files' is matched through its stem) and settings; only 'Einstellungen' is there
    assert terms["required"] == 3 and terms["present"] == 1 and terms["forbidden_hits"] == 1
    assert terms["term_success_rate"] == pytest.approx(1 / 3, abs=1e-4)  # rounded as bayling-cat check does
    with pytest.raises(UserError, match="--variant glossary needs a glossary"):
        run(text_pair(tmp_path), variants=["glossary"])

    from tests.fakes import FakeEngine

    def answer(conversation):  # the first turn misses 'Datei'; the revision turn puts it in
        said = conversation[-1].content
        return "Die Datei konnte nicht gespeichert werden." if "must be translated" in said else "Etwas."

    report = run(text_pair(tmp_path, SOURCES[:1], TARGETS[:1]), FakeEngine(answer), glossaries=[glossary],
                 variants=["glossary"])
    plain, with_glossary = report["rows"]
    assert with_glossary["name"] == "fake-engine [glossary]"
    assert plain["terminology"]["present"] == 0 and with_glossary["terminology"]["present"] == 1
    assert with_glossary["metrics"]["exact_match"] == 1.0


def test_variant_parsing_and_decoding_rows(tmp_path):
    from bayling_cat.evaluate.runner import parse_variant

    v = parse_variant("beam=5, glossary")
    assert v.decoding == {"beam_size": 5} and v.glossary and not v.examples
    assert parse_variant("temperature=0.7").decoding == {"sampling_temperature": 0.7, "sampling_topk": 0}
    for bad, message in [("beam=0", "between 1 and 16"), ("beam=x", "whole number"), ("speed=3", "unknown"),
                         ("", "empty")]:
        with pytest.raises(UserError, match=message):
            parse_variant(bad)

    class Decoding(ScriptedTranslator):
        beam = 1

        def with_decoding(self, **changes):
            if "beam_size" not in changes:  # the core's second try of a degenerate answer
                return self
            return Decoding({s: f"beam {changes['beam_size']} of {s}" for s in SOURCES})

    report = run(text_pair(tmp_path), Decoding(ANSWERS), variants=["beam=4"])
    assert [r["name"] for r in report["rows"]] == ["default", "default [beam=4]"]
    assert {s["hypothesis"] for s in report["rows"][1]["segments"]} == {f"beam 4 of {s}" for s in SOURCES}


def _memory_with(tmp_path, rows):
    from bayling_cat.memory import open_memory

    mem = open_memory(tmp_path / "tm.sqlite")
    mem.add([dict(r, source_lang="en", target_lang="de", origin="human") for r in rows])
    return mem


def test_examples_variant_and_whole_pipeline_row(tmp_path):
    mem = _memory_with(tmp_path, [{"source": "The file could not be opened.", "target": "Die Datei ließ sich nicht "
                                   "öffnen."}, {"source": SOURCES[1], "target": TARGETS[1]}])
    before = mem.stats()["units"]
    engine = ScriptedTranslator(ANSWERS)
    report = run(text_pair(tmp_path), engine, variants=["examples"], with_memory=True, memory=mem.path)
    names = [r["name"] for r in report["rows"]]
    assert names == ["default", "default [examples]", "default [pipeline+memory]"]
    assert engine.calls[0][0] == SOURCES  # the plain row: nothing from the memory
    examples_call = engine.calls[1]
    assert examples_call[0] == SOURCES
    assert report["rows"][1]["sources_with_examples"] == 1  # 'could not be saved' ~ 'could not be opened'
    assert "sources_with_examples" not in report["rows"][0]
    pipeline_row = report["rows"][2]
    exact = next(s for s in pipeline_row["segments"] if s["source"] == SOURCES[1])
    assert exact["hypothesis"] == TARGETS[1]  # the memory's human translation, as translate would use it
    assert SOURCES[1] not in engine.calls[2][0]
    assert mem.stats()["units"] == before  # evaluating never writes to the memory
    with pytest.raises(UserError, match="no translation memory there"):
        run(text_pair(tmp_path), variants=["examples"], memory=tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


def test_examples_reach_the_model(tmp_path):
    mem = _memory_with(tmp_path, [{"source": "The file could not be opened.",
                                   "target": "Die Datei ließ sich nicht öffnen."}])
    engine = ScriptedTranslator(ANSWERS)
    run(text_pair(tmp_path), engine, variants=["examples"], memory=mem.path)
    assert engine.examples[0] == [("The file could not be opened.", "Die Datei ließ sich nicht öffnen.")]


def test_comet_from_a_local_model_only(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="not a local COMET model"):
        run(text_pair(tmp_path), comet=tmp_path / "Unbabel/wmt22-comet-da")
    model = tmp_path / "wmt22-comet-da"
    (model / "checkpoints").mkdir(parents=True)
    (model / "checkpoints" / "model.ckpt").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "comet", None)
    with pytest.raises(UserError, match=r"--comet needs unbabel-comet: pip install 'bayling-cat\[comet\]'"):
        run(text_pair(tmp_path), comet=model)

    loaded = []

    class Model:
        def predict(self, data, batch_size, gpus, progress_bar):
            return types.SimpleNamespace(scores=[len(d["mt"]) / 100 for d in data])

    fake = types.ModuleType("comet")
    fake.load_from_checkpoint = lambda path: loaded.append(path) or Model()
    monkeypatch.setitem(sys.modules, "comet", fake)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    report = run(text_pair(tmp_path), comet=model)
    import os

    assert loaded == [str(model / "checkpoints" / "model.ckpt")] and os.environ["HF_HUB_OFFLINE"] == "1"
    hyps = [ANSWERS[s] for s in SOURCES]
    assert report["rows"][0]["metrics"]["comet"] == pytest.approx(sum(len(h) for h in hyps) / len(hyps))
    assert report["signatures"]["COMET"] == f"model:{model / 'checkpoints' / 'model.ckpt'}|scores:x100"

    def offline(path):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load this file\nmore")

    fake.load_from_checkpoint = offline
    with pytest.raises(UserError, match=r"cannot load the COMET model offline \(We couldn't connect to "
                                        r"'https://huggingface.co' to load this file\)$"):
        run(text_pair(tmp_path), comet=model)


# -- reports ------------------------------------------------------------------------------------------------

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)> & "quotes"'


def hostile_report(tmp_path):
    paths = text_pair(tmp_path, SOURCES[:2] + [HOSTILE], TARGETS[:2] + [HOSTILE])
    report = run(paths, ScriptedTranslator(dict(ANSWERS, **{HOSTILE: "<i>x</i></td></table>"})))
    out = tmp_path / "r.html"
    evaluation.write_html(out, report)
    return out, report


def test_html_page_parts_and_escaping(tmp_path):
    out, report = hostile_report(tmp_path)
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert '<div class="src">&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;&lt;img src=x ' \
        'onerror=alert(1)&gt; &amp; &quot;quotes&quot;</div>' in page
    assert "<ins>&lt;/table&gt;</ins>" in page and page.count("<table") == page.count("</table>") == 2
    assert 'id="summary"' in page and page.count("<svg") == 1 and 'id="worst-0"' in page
    assert "Content-Security-Policy" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    from bayling_cat.evaluate.html import word_diff

    assert word_diff("Öffnen Sie die Einstellungen", "Öffnen Sie die Einstellungen.") == \
        "Öffnen Sie die Einstellungen<del>.</del>"
    assert word_diff("a <b> c", "a x c") == "a <del>x</del><ins>&lt;b&gt;</ins> c"


@pytest.mark.slow
def test_html_page_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("no Chromium")
    out, report = hostile_report(tmp_path)
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<title>bayling-cat evaluation en → de</title>" in dom  # the hostile script never ran
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;" in dom  # shown as text
    assert dom.count("<svg") == 1 and dom.count("<rect") == 10
    assert dom.count("<tr>") == 2 + 4  # summary: header + 1 row; worst: header + 3 segments


# -- the command line ---------------------------------------------------------------------------------------

def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    paths = text_pair(tmp_path / "a", SOURCES, TARGETS[:3])
    for args, message in [
        (paths + ["-s", "en", "-t", "de"], "has 5 lines and"),
        ([str(tmp_path / "missing.tmx")], "missing.tmx: no such file"),
        (text_pair(tmp_path) + ["-s", "en", "-t", "de", "--variant", "beam=99"], "between 1 and 16"),
        (text_pair(tmp_path) + ["-s", "en", "-t", "de", "--comet", str(tmp_path)], "not a local COMET model"),
    ]:
        result = run_cli(["evaluate", *args], env_extra={"BAYLING_CAT_HOME": str(tmp_path / "home")})
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_reports_never_replace_a_reference_or_each_other(tmp_path):
    src, ref = text_pair(tmp_path)
    before = Path(ref).read_bytes()
    for extra, message in [(["--report", ref], "the report would overwrite the reference"),
                           (["--html", src], "the HTML report would overwrite the reference"),
                           (["--report", str(tmp_path / "r"), "--html", str(tmp_path / "r")], "are the same file")]:
        result = run_cli(["evaluate", src, ref, "-s", "en", "-t", "de", *extra],
                         env_extra={"BAYLING_CAT_HOME": str(tmp_path / "home")})
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr
    assert Path(ref).read_bytes() == before


def test_cli_end_to_end_on_the_default_model(default_home, tmp_path):
    paths = text_pair(tmp_path)
    report, page = tmp_path / "out" / "r.json", tmp_path / "out" / "r.html"
    result = run_cli(["evaluate", *paths, "-s", "en", "-t", "de", "--sample", "3", "--seed", "2",
                      "--report", str(report), "--html", str(page), "--variant", "beam=2"],
                     env_extra={"BAYLING_CAT_HOME": str(default_home)})
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [r["variant"] for r in data["rows"]] == [None, "beam=2"]
    assert data["references"]["segments"] == 3 and data["references"]["sample"] == {"size": 3, "seed": 2}
    row = data["rows"][0]
    hyps = {s["source"]: s["hypothesis"] for s in row["segments"]}
    refs = {s["source"]: s["reference"] for s in row["segments"]}
    order = [s for s in SOURCES if s in hyps]
    assert row["metrics"]["bleu"] == BLEU().corpus_score([hyps[s] for s in order], [[refs[s] for s in order]]).score
    assert row["segments_per_second"] > 0 and "gemma-3-270m" in row["name"]
    lines = result.stdout.splitlines()
    assert lines[0] == "en -> de: 3 segments (a sample of 5, seed 2) from ref.de.txt"
    assert any(line.startswith("  BLEU: nrefs:1|case:mixed") for line in lines)
    assert lines[-1].startswith(row["name"] + " [beam=2]")
    assert page.read_text(encoding="utf-8").count("<svg") == 2


def test_real_engine_rows_with_sampling_and_beams(tiny_model, tmp_path):
    """The tiny random model rarely stops: sampled and beam rows on codes and placeholders must still score."""
    from bayling_cat.engines.base import DecodingOptions
    from bayling_cat.engines.ctranslate2 import Engine

    engine = Engine(tiny_model, device="cpu", threads=1, decoding=DecodingOptions(max_new_tokens=24))
    paths = [write(tmp_path, "a.xlf", XLIFF12)]
    report = evaluation.evaluate(evaluation.Settings(paths, variants=["temperature=1.5,top_p=0.95", "beam=3"]),
                                 lambda model: engine)
    assert [r["variant"] for r in report["rows"]] == [None, "temperature=1.5,top_p=0.95", "beam=3"]
    for row in report["rows"]:
        m = row["metrics"]
        assert m["segments"] == 2 and m["code_segments"] == 1 and 0 <= m["chrf++"] <= 100
        assert 0 <= m["bleu"] <= 100 and m["ter"] >= 0 and 0 <= m["flagged"] <= 1
        assert all("<1>" not in s["hypothesis"] and "</1>" not in s["hypothesis"] for s in row["segments"])
        assert row["name"].startswith(tiny_model.name)
