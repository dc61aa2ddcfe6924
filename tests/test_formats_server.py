"""The server's document route takes every format the connectors read: app strings, subtitles, pages and
Office files come back translated, in their own format, with nothing but text changed."""

import io
import json
import zipfile
from pathlib import Path

import pytest

from bayling_cat.server import create_app
from tests.fakes import FakeEngine
from tests.test_server import echo

DATA = Path(__file__).parent / "data" / "formats"


@pytest.fixture
def client():
    return create_app(FakeEngine(echo), window=0.05).test_client()


@pytest.mark.parametrize("name, check", [
    ("i18next/en/common.json", lambda data: json.loads(data)["blog"]["ssg"]["answer"].startswith("[tr] ")),
    ("android/values/strings.xml", lambda data: b">[tr] Filter by grow zone</string>" in data),
    ("subtitles/cue_tags.vtt", lambda data: data.count(b"-->") == 3 and b"[tr] " in data),
    ("yaml/devise/en.yml", lambda data: data.startswith(b"# Additional translations") and b"\nde:\n" in data),
    ("office/txt-text.pptx", lambda data: b"[tr] " in zipfile.ZipFile(io.BytesIO(data)).read("ppt/slides/slide1.xml")),
    ("markdown/README.md", lambda data: b"```python\n# save this as app.py" in data and b"\\[tr\\] Flask" in data),
])
def test_documents_route_translates_every_format(client, name, check):
    path = DATA / name
    r = client.post("/v1/documents", data={"file": (io.BytesIO(path.read_bytes()), path.name), "target_lang": "de"})
    assert r.status_code == 200, r.get_json()
    assert check(r.data)


def test_a_broken_resource_is_a_clear_error(client):
    r = client.post("/v1/documents", data={"file": (io.BytesIO(b'{"a": "b"'), "en.json"), "target_lang": "de"})
    assert r.status_code == 422
    message = r.get_json()["error"]["message"]
    assert message.startswith("en.json: line 1, column 10: not valid JSON") and "/tmp" not in message


def test_the_workbench_saves_a_resource_beside_its_source(tmp_path):
    import shutil

    from bayling_cat.review import ReviewSession

    shutil.copytree(DATA / "android", tmp_path / "res")
    source = tmp_path / "res" / "values" / "strings.xml"
    before = source.read_bytes()
    session = ReviewSession(source, "x", target_lang="de", folder=tmp_path / "session")
    row = next(session.segment_json(i) for i in range(len(session.segments))
               if session.segment_json(i)["source"] == "Plant list")
    session.confirm(row["i"], "Pflanzenliste", row["version"])
    saved = session.save()
    assert saved["output"] == str(tmp_path / "res" / "values-de" / "strings.xml") and saved["backup"] is None
    assert source.read_bytes() == before  # the English source is never overwritten
    assert '<string name="plant_list_title" translation_description="Title for the plant list screen where the user ' \
        'can see a list of plants available to add to their garden.">Pflanzenliste</string>' in \
        (tmp_path / "res" / "values-de" / "strings.xml").read_text()
