import csv
import io
import json
from pathlib import Path

import nh3
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from radar.interchange import (
    export_byor_csv,
    export_byor_json,
    export_markdown,
    import_radar,
)
from radar.models import Quadrant, Ring, Technique
from tests.factories import make_quadrant, make_technique

pytestmark = pytest.mark.django_db

DATA = Path("/work/shared/data")
SHEET = (DATA / "byor-sheet.csv").read_bytes()
HEADER = "name,ring,quadrant,isNew,description\n"


def _csv(*lines):
    return (HEADER + "\n".join(lines) + "\n").encode()


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def _text(html):
    """The words of an HTML text, tags counted as word breaks."""
    return " ".join(nh3.clean(html.replace("<", " <"), tags=set()).split())


def _sample_without_conflict():
    """The real sample minus line 31, the row the import rejects (see the test below)."""
    lines = SHEET.decode().splitlines(keepends=True)
    return "".join(line for number, line in enumerate(lines, 1) if number != 31).encode()


def test_real_sample_conflicting_duplicate_rejects_the_whole_file(alice):
    report = import_radar(SHEET, filename="byor-sheet.csv", owner=alice)
    lines = report.lines()
    assert report.summary == "created 36, updated 0, unchanged 1, rejected 1"
    assert any(
        line.startswith("line 31: Databricks Overwatch: rejected: quadrant:")
        and "already on line 7" in line
        for line in lines
    )
    assert "line 14: Delta Lake: unchanged: duplicate of line 13" in "\n".join(lines)
    assert not report.applied
    assert not Technique.objects.exists()
    assert not Quadrant.objects.exists()


def test_real_sample_csv_round_trip(alice):
    source = _sample_without_conflict()
    first = import_radar(source, filename="byor-sheet.csv", owner=alice)
    assert first.summary == "created 36, updated 0, unchanged 1, rejected 0"
    exported = export_byor_csv().text

    original = {row["name"]: row for row in _rows(source.decode())}
    back = {row["name"]: row for row in _rows(exported)}
    assert set(back) == set(original)
    for name, row in original.items():
        assert (back[name]["ring"], back[name]["quadrant"]) == (row["ring"], row["quadrant"])
        assert _text(back[name]["description"]) == _text(row["description"])
    # Markup and links survive (links gain rel attributes when sanitised).
    assert (
        '<strong><a href="https://github.com/dragonflydb/dragonfly"'
        in back["Dragonfly"]["description"]
    )

    again = import_radar(exported.encode(), filename="radar.csv", owner=alice)
    assert again.summary == "created 0, updated 0, unchanged 36, rejected 0"
    assert export_byor_csv().text == exported


def test_real_sample_json_imports_with_line_numbers(alice):
    data = (DATA / "byor-data.json").read_bytes()
    report = import_radar(data, filename="byor-data.json", owner=alice, dry_run=True)
    rejected = [result for result in report.results if result.outcome == "rejected"]
    assert [result.name for result in rejected] == ["Databricks Overwatch"]
    text = data.decode()
    first = text.index('"name": "Databricks Overwatch"')
    second = text.index('"name": "Databricks Overwatch"', first + 1)
    assert rejected[0].line == text.count("\n", 0, text.rindex("{", 0, second)) + 1
    assert "already on line" in rejected[0].detail
    assert not Technique.objects.exists()


def test_imported_trial_and_assess_get_owner_and_next_action(alice):
    report = import_radar(
        _csv(
            "LoRA,Trial,Training,TRUE,<p>Low-rank adapters</p>",
            "Mamba,Assess,Architectures,FALSE,State space models",
            "GQA,Adopt,Architectures,FALSE,",
        ),
        filename="ml.csv",
        owner=alice,
    )
    assert report.summary == "created 3, updated 0, unchanged 0, rejected 0"
    lora = Technique.objects.get(name="LoRA")
    assert lora.owner == alice
    assert lora.next_action == "review imported entry"
    assert lora.next_action_due == timezone.localdate() + timezone.timedelta(days=30)
    assert lora.moves.get().reason == "Imported from ml.csv line 2"
    assert Technique.objects.get(name="GQA").owner is None
    assert [q.name for q in Quadrant.objects.all()] == ["Training", "Architectures"]


def test_malformed_rows_are_reported_by_line_and_field_and_nothing_is_written(alice):
    report = import_radar(
        _csv(
            "Good one,Adopt,Training,TRUE,fine",
            ",Adopt,Training,TRUE,no name",
            "Bad ring,Maybe,Training,TRUE,x",
            "Bad flag,Adopt,Training,perhaps,x",
            "Parked,Hold,Training,FALSE,",
            '"Multi\nline",Adopt,,TRUE,x',
            "Too,many,fields,TRUE,x,y",
        ),
        filename="bad.csv",
        owner=alice,
    )
    rejected = {r.line: r.detail for r in report.results if r.outcome == "rejected"}
    assert rejected[3] == "name: is empty"
    assert rejected[4].startswith("ring: 'Maybe' is not one of Adopt, Trial, Assess, Hold, Skip")
    assert rejected[5] == "isNew: 'perhaps' is not TRUE or FALSE"
    assert rejected[6].startswith("description: a Hold entry needs a description saying why")
    assert rejected[7] == "quadrant: is empty"
    assert rejected[9].startswith("columns: has 6 fields, the header has 5")
    assert report.summary == "created 1, updated 0, unchanged 0, rejected 6"
    assert not Technique.objects.exists()


def test_import_updates_existing_techniques_through_moves(alice):
    make_technique(name="LoRA", ring="adopt", quadrant=make_quadrant(name="Training"))
    report = import_radar(
        _csv("lora,Hold,Training,FALSE,<p>Superseded by DoRA. Keep for old models.</p>"),
        filename="update.csv",
        owner=alice,
    )
    assert report.summary == "created 0, updated 1, unchanged 0, rejected 0"
    assert "ring Adopt → Hold" in report.results[0].detail
    technique = Technique.objects.get(name="LoRA")
    move = technique.moves.last()
    assert (move.to_ring, move.failed_constraint) == ("hold", "Superseded by DoRA.")


def test_dry_run_reports_but_writes_nothing(alice):
    report = import_radar(_csv("A,Adopt,Q,TRUE,x"), filename="a.csv", owner=alice, dry_run=True)
    assert report.summary == "created 1, updated 0, unchanged 0, rejected 0"
    assert not report.applied
    assert not Technique.objects.exists()


def test_import_command_prints_rows_and_summary_and_fails_on_rejection(alice, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(_csv("A,Adopt,Q,TRUE,x", "B,Assess,Q,FALSE,y"))
    out = io.StringIO()
    call_command("import_radar", str(good), "--owner", "alice", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["new quadrant: Q", "line 2: A: created: Adopt in Q"]
    assert lines[-1] == "created 2, updated 0, unchanged 0, rejected 0"

    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("C,Adopt,Q,TRUE,x", "D,Nope,Q,TRUE,x"))
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_radar", str(bad), "--owner", "alice", stdout=out)
    assert error.value.returncode == 1
    assert out.getvalue().splitlines()[-1] == "created 1, updated 0, unchanged 0, rejected 1"
    assert not Technique.objects.filter(name="C").exists()


def test_import_command_refuses_unknown_owner_and_broken_files(alice, tmp_path):
    path = tmp_path / "radar.csv"
    path.write_bytes(b"name,ring\nA,Adopt\n")
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("import_radar", str(path), "--owner", "nobody")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_radar", str(path), "--owner", "alice")
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_radar", str(path), "--owner", "alice")


def test_skip_is_exported_explicitly(alice):
    make_technique(name="Technique X", ring="skip")
    make_technique(name="LoRA", ring="adopt")
    as_hold = export_byor_csv(skip_as="hold")
    assert {row["name"]: row["ring"] for row in _rows(as_hold.text)} == {
        "LoRA": "Adopt",
        "Technique X": "Hold",
    }
    assert as_hold.notes == [
        "1 Skip technique(s) exported as Hold (BYOR cannot draw Skip): Technique X"
    ]
    omitted = export_byor_csv(skip_as="omit")
    assert [row["name"] for row in _rows(omitted.text)] == ["LoRA"]
    assert "left out" in omitted.notes[0]
    kept = json.loads(export_byor_json(skip_as="skip").text)
    assert {entry["ring"] for entry in kept} == {"Adopt", "Skip"}


def test_export_command_writes_file_and_reports_skip(alice, tmp_path):
    make_technique(name="Technique X", ring="skip")
    output = tmp_path / "radar.json"
    err = io.StringIO()
    call_command("export_radar", "--format", "byor-json", "--output", str(output), stderr=err)
    assert json.loads(output.read_text())[0]["ring"] == "Hold"
    assert "exported as Hold" in err.getvalue()


def test_markdown_export_lists_every_technique_by_quadrant_and_ring(alice):
    training = make_quadrant(name="Training", order=1)
    serving = make_quadrant(name="Serving", order=2)
    make_technique(name="LoRA", ring="trial", quadrant=training, owner=alice)
    technique = make_technique(name="Beam search", ring="adopt", quadrant=serving)
    technique.move_to(Ring.SKIP, by=alice, reason="Sampling wins", failed_constraint="Latency")
    text = export_markdown().text
    assert text.index("## Training") < text.index("### Trial") < text.index("**LoRA**, owner alice")
    assert text.index("## Serving") < text.index("### Skip") < text.index("**Beam search**")
    assert "Why Skip" in text and "Fails: Latency." in text


# --- the upload form and the export download ---


def test_upload_form_imports_a_file_and_reports_rows(alice_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("radar.csv", _csv("A,Adopt,Q,TRUE,x"), content_type="text/csv")
    response = alice_client.post(reverse("radar:radar_import"), {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "line 2: A: created: Adopt in Q" in html
    assert "created 1, updated 0, unchanged 0, rejected 0" in html
    assert Technique.objects.filter(name="A").exists()


def test_upload_form_rejection_writes_nothing_and_says_so(alice_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("radar.csv", _csv("A,Adopt,Q,TRUE,x", "B,Later,Q,TRUE,x"))
    response = alice_client.post(reverse("radar:radar_import"), {"file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Rejected: nothing was written" in html
    assert "line 3: B: rejected: ring: &#x27;Later&#x27; is not one of" in html
    assert not Technique.objects.exists()


def test_upload_over_the_size_limit_is_refused_clearly(alice_client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.ASSAY_MAX_UPLOAD_BYTES = 100
    upload = SimpleUploadedFile("radar.csv", _csv(*[f"T{n},Adopt,Q,TRUE,x" for n in range(20)]))
    response = alice_client.post(reverse("radar:radar_import"), {"file": upload})
    assert response.status_code == 400
    assert "the limit is 100\xa0bytes (ASSAY_MAX_UPLOAD_BYTES)" in response.content.decode()
    assert not Technique.objects.exists()


def test_member_cannot_import(bob_client):
    assert bob_client.get(reverse("radar:radar_import")).status_code == 403


@pytest.mark.parametrize("export_format", ["byor-csv", "byor-json", "markdown"])
def test_export_puts_no_technique_name_in_a_header(bob_client, export_format):
    make_technique(name="Secret Projekt Ünïcode", ring="skip")
    response = bob_client.get(
        reverse("radar:radar_export"), {"format": export_format, "skip_as": "omit"}
    )
    assert response.status_code == 200
    headers = " ".join(f"{name}: {value}" for name, value in response.headers.items())
    assert "Secret" not in headers and "Projekt" not in headers


def test_export_download_reports_skip_handling_in_a_header(bob_client):
    make_technique(name="Technique X", ring="skip")
    response = bob_client.get(reverse("radar:radar_export"), {"format": "byor-csv"})
    assert response["Content-Disposition"] == 'attachment; filename="radar.csv"'
    assert response["X-Assay-Export-Notes"] == (
        "1 Skip technique(s) exported as Hold (BYOR cannot draw Skip)"
    )
    assert "Technique X,Hold" in response.content.decode()
    assert bob_client.get(reverse("radar:radar_export"), {"format": "pdf"}).status_code == 404


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_a_byor_file_with_more_rows_than_the_cap_is_refused_naming_the_cap(alice, settings, kind):
    from radar.interchange import ImportFileError

    settings.ASSAY_IMPORT_MAX_RECORDS = 2
    rows = [
        {"name": f"T{n}", "ring": "adopt", "quadrant": "Techniques", "isNew": "FALSE"}
        for n in range(3)
    ]
    data = (
        json.dumps(rows).encode()
        if kind == "json"
        else _csv(*(f"T{n},adopt,Techniques,FALSE,x" for n in range(3)))
    )
    with pytest.raises(ImportFileError) as refused:
        import_radar(data, filename=f"radar.{kind}", owner=alice)
    assert str(refused.value) == (
        "The file has 3 records; the limit is 2 per file (ASSAY_IMPORT_MAX_RECORDS): "
        "split it into smaller files."
    )
    assert not Technique.objects.exists()


def test_a_byor_json_file_nested_a_hundred_thousand_deep_is_refused(alice):
    from radar.interchange import ImportFileError

    with pytest.raises(ImportFileError, match="nested too deeply"):
        import_radar(b"[" * 100_000 + b"]" * 100_000, filename="radar.json", owner=alice)
