"""Uploads (BibTeX, CSL-JSON, BYOR CSV and JSON) have a size limit with a clear error above it,
and malformed files are rejected with the line and the field at fault (issue 5).

Each file goes through the upload page a person uses. The importers' own tests cover the
parsing rules in depth (tests/papers/test_import_*.py, tests/radar/); this checks what the
person sees and that a refused file writes nothing.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from papers.models import Paper
from radar.models import Technique

pytestmark = pytest.mark.django_db

BIBTEX = """@article{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish},
  year = {2017}
}

@article{badyear,
  title = {A Paper With a Bad Year},
  author = {Roe, Richard},
  year = {twenty-twenty}
}
"""
CSL_JSON = """[
  {"type": "article", "id": "ok", "title": "LoRA: Low-Rank Adaptation",
   "issued": {"date-parts": [[2021]]}},
  {"type": "article", "id": "untitled",
   "issued": {"date-parts": [[2022]]}}
]
"""
BYOR_CSV = """name,ring,quadrant,isNew,description
LoRA,adopt,Techniques,FALSE,Fine-tuning with adapters
Speculative decoding,maybe,Techniques,TRUE,Bad ring on line 3
"""
BYOR_JSON = """[
  {"name": "LoRA", "ring": "adopt", "quadrant": "Techniques", "isNew": "FALSE",
   "description": "ok"},
  {"name": "Medusa", "ring": "sideways", "quadrant": "Techniques", "isNew": "TRUE",
   "description": "bad ring"}
]
"""
# (upload page, file name, content, model whose rows must not change when it is refused)
KINDS = {
    "bibtex": ("papers:paper_import", "refs.bib", BIBTEX, Paper),
    "csl-json": ("papers:paper_import", "refs.json", CSL_JSON, Paper),
    "byor-csv": ("radar:radar_import", "radar.csv", BYOR_CSV, Technique),
    "byor-json": ("radar:radar_import", "radar.json", BYOR_JSON, Technique),
}


def _upload(client, url_name, filename, content):
    upload = SimpleUploadedFile(filename, content.encode() if isinstance(content, str) else content)
    return client.post(reverse(url_name), {"file": upload})


def _text(response):
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_above_the_limit_is_refused_with_the_sizes(alice_client, settings, kind):
    url_name, filename, content, model = KINDS[kind]
    settings.ASSAY_MAX_UPLOAD_BYTES = 150
    padded = content + " " * 200
    before = model.objects.count()
    response = _upload(alice_client, url_name, filename, padded)
    assert response.status_code == 400
    text = _text(response)
    assert f"The file is {len(padded.encode())} bytes; the limit is 150 bytes" in text
    assert "ASSAY_MAX_UPLOAD_BYTES" in text  # says which setting raises it
    assert model.objects.count() == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_just_under_the_limit_is_accepted(alice_client, settings, kind):
    url_name, filename, content, _ = KINDS[kind]
    settings.ASSAY_MAX_UPLOAD_BYTES = len(content.encode())
    response = _upload(alice_client, url_name, filename, content)
    assert "the limit is" not in _text(response)


@pytest.mark.parametrize("kind", KINDS)
def test_a_binary_file_is_refused_as_not_text(alice_client, kind):
    url_name, filename, _, model = KINDS[kind]
    response = _upload(alice_client, url_name, filename, b"\xff\xfe\x00\x81PK\x03\x04")
    assert response.status_code == 400
    assert "not UTF-8 text" in _text(response)
    assert model.objects.count() == 0


def test_bibtex_record_warnings_name_the_line_and_field(alice_client):
    response = _upload(alice_client, "papers:paper_import", "refs.bib", BIBTEX)
    text = _text(response)
    # A field that cannot be read is dropped and named; the record itself still imports.
    assert "created warning field year: 'twenty-twenty' is not a year" in text
    assert "7 A Paper With a Bad Year created" in text
    assert Paper.objects.get(bibtex_key="badyear").year is None


def test_unreadable_bibtex_is_reported(alice_client):
    response = _upload(alice_client, "papers:paper_import", "refs.bib", "@article{x,\n title={Open")
    assert "malformed BibTeX" in _text(response)
    assert Paper.objects.count() == 0


def test_csl_json_record_errors_name_the_line_and_field(alice_client):
    response = _upload(alice_client, "papers:paper_import", "refs.json", CSL_JSON)
    text = _text(response)
    assert "4 untitled rejected no title" in text  # the item that starts on line 4
    assert list(Paper.objects.values_list("title", flat=True)) == ["LoRA: Low-Rank Adaptation"]


def test_invalid_json_is_refused_with_line_and_column(alice_client):
    broken = '[\n  {"type": "article",\n   "title": "x",}\n]'
    response = _upload(alice_client, "papers:paper_import", "refs.json", broken)
    assert response.status_code == 400
    assert "line 3, column 17: not valid JSON" in _text(response)


def test_byor_csv_errors_name_the_line_and_field_and_nothing_is_written(alice_client):
    response = _upload(alice_client, "radar:radar_import", "radar.csv", BYOR_CSV)
    assert response.status_code == 400
    text = _text(response)
    assert "line 3: Speculative decoding: rejected: ring: 'maybe' is not one of" in text
    assert "nothing was written" in text.lower()
    # A radar import applies fully or not at all.
    assert not Technique.objects.filter(name="LoRA").exists()


def test_byor_json_errors_name_the_line_and_field_and_nothing_is_written(alice_client):
    response = _upload(alice_client, "radar:radar_import", "radar.json", BYOR_JSON)
    assert response.status_code == 400
    assert "line 4: Medusa: rejected: ring: 'sideways' is not one of" in _text(response)
    assert not Technique.objects.filter(name="LoRA").exists()


def test_byor_json_syntax_errors_name_the_line(alice_client):
    broken = '[\n {"name": "A", "ring": "adopt",\n  "quadrant": "Techniques"\n  "isNew": "TRUE"}\n]'
    response = _upload(alice_client, "radar:radar_import", "radar.json", broken)
    assert response.status_code == 400
    assert "line 4: not valid JSON" in _text(response)


def test_a_member_cannot_import_into_the_radar(bob_client):
    response = _upload(bob_client, "radar:radar_import", "radar.csv", BYOR_CSV)
    assert response.status_code == 403


def test_api_body_above_the_limit_gets_a_json_error_naming_the_limit(client, settings):
    """Training jobs get a message they can act on, not an HTML error page."""
    from tests import factories

    experiment = factories.make_experiment()
    run = factories.make_run(experiment=experiment)
    _, key = factories.make_token(experiment=experiment)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    points = ",".join(f'{{"key": "loss", "value": 1.0, "step": {i}}}' for i in range(1000))
    response = client.post(
        f"/api/v1/experiments/{experiment.key}/runs/{run.pk}/metrics",
        data=f'{{"idempotency_key": "big", "points": [{points}]}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    assert "10000" in response.json()["detail"] or "10 KB" in response.json()["detail"]


@pytest.mark.parametrize("kind", ["bibtex", "byor-csv"])
def test_an_upload_over_the_limit_is_stopped_before_it_is_stored_whole(
    alice_client, settings, monkeypatch, kind
):
    """Past ASSAY_MAX_UPLOAD_BYTES no more of the file reaches memory or the temporary file,
    and what was stored is thrown away; the person still gets the sizes (issue 9)."""
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    url_name, filename, content, model = KINDS[kind]
    settings.ASSAY_MAX_UPLOAD_BYTES = 100_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1_000  # so Django spools the file to disk
    stored, temporary_files = [0], []
    receive = TemporaryFileUploadHandler.receive_data_chunk
    new_file = TemporaryFileUploadHandler.new_file

    def counting_receive(self, raw_data, start):
        stored[0] += len(raw_data)
        return receive(self, raw_data, start)

    def remembering_new_file(self, *args, **kwargs):
        new_file(self, *args, **kwargs)
        temporary_files.append(self.file)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting_receive)
    monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", remembering_new_file)
    big = content.encode() + b" " * 2_000_000
    response = _upload(alice_client, url_name, filename, big)
    assert stored[0] <= 100_000
    assert [f.closed for f in temporary_files] == [True]  # closed, so deleted
    assert response.status_code == 400
    text = _text(response)
    assert "the limit is 97.7 KB (ASSAY_MAX_UPLOAD_BYTES)" in text
    assert "The file is 1.9 MB" in text  # the size sent, though not stored
    assert model.objects.count() == 0
