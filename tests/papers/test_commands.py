import json
import unicodedata

import pytest
from django.conf import settings
from django.core.management import call_command

from papers.importers import import_text
from papers.models import Paper

pytestmark = pytest.mark.django_db

DATA = settings.BASE_DIR.parent / "shared" / "data"


def test_import_papers_prints_a_line_per_record_and_the_summary(capsys):
    call_command("import_papers", str(DATA / "arxiv-deep-dream.atom.xml"))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 11
    assert "line 10 1611.09520v2 'Hierarchical Neural Representation" in lines[0]
    assert lines[-1] == "created 10, merged 0, duplicates 0, rejected 0"
    assert "10/10" in err  # the progress bar, on stderr


def test_import_papers_dry_run_saves_nothing(capsys):
    call_command("import_papers", "--dry-run", str(DATA / "arxiv-deep-dream.atom.xml"))
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "created 10, merged 0, duplicates 0, rejected 0"
    assert "Dry run" in out
    assert not Paper.objects.exists()


def test_import_papers_exits_non_zero_when_anything_is_rejected(tmp_path, capsys):
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{ok, title = {Fine}}\n@article{nope, author = {X, Y}}\n")
    not_xml = tmp_path / "feed.atom.xml"
    not_xml.write_text("<feed><entry></feed>")
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_papers", str(bad), str(not_xml))
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert "line 2 nope rejected: no title" in out
    assert "feed.atom.xml: rejected: line 1, column" in err
    assert out.strip().splitlines()[-1] == "created 1, merged 0, duplicates 0, rejected 2"


@pytest.mark.parametrize("export_format", ["bibtex", "csl-json"])
def test_export_round_trips_through_import(export_format, tmp_path):
    samples = ("phd-thesis-db.bib", "manuscript-references.csl.json", "arxiv-deep-dream.atom.xml")
    for name in samples:
        import_text((DATA / name).read_text(encoding="utf-8"))
    Paper.objects.filter(arxiv_id="1611.09520").update(title="50% of {braces} & $O(n^2)$ ~ #1_a")
    before = _papers()
    output = tmp_path / "export.out"
    call_command("export_papers", "--format", export_format, "--output", str(output))
    text = output.read_text(encoding="utf-8")

    # Into the same database: every record is found again (papers that had no BibTeX key
    # take the generated one, so some count as merged).
    again = import_text(text)
    assert again.counts["created"] == 0
    assert again.counts["rejected"] == 0

    Paper.objects.all().delete()
    fresh = import_text(text)
    assert fresh.counts["rejected"] == 0
    assert _papers() == before


def _papers():
    """Every paper's metadata; accents composed (the BibTeX export writes them as one)."""
    fields = ["title", "authors", "year", "venue", "arxiv_id", "doi", "entry_type"]
    return sorted(
        tuple(json.loads(unicodedata.normalize("NFC", json.dumps(row, ensure_ascii=False))))
        for row in Paper.objects.values_list(*fields)
    )


def test_export_to_stdout_is_valid_csl_json(capsys):
    import_text((DATA / "arxiv-deep-dream.atom.xml").read_text(encoding="utf-8"))
    call_command("export_papers", "--format", "csl-json")
    items = json.loads(capsys.readouterr().out)
    assert {item["note"] for item in items} >= {"arXiv: 1611.09520"}
