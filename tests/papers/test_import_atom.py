import pytest

from papers.importers import ImportFormatError, import_text
from papers.models import Paper

pytestmark = pytest.mark.django_db

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <id>http://arxiv.org/abs/1403.7984v2</id>
    <published>2014-03-31T09:16:08Z</published>
    <title>Mori Dream
  Stacks</title>
    <summary>  A summary
 on two lines.</summary>
    <author><name>Jürgen Hausen</name></author>
    <author><name>Simon Keicher</name></author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.1007/s00209-015-1472-1</arxiv:doi>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">S\\'eminaire 280,
  2015</arxiv:journal_ref>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="math.AG"/>
  </entry>
  <entry>
    <id>http://example.org/not-arxiv</id>
    <title>Elsewhere</title>
  </entry>
</feed>
"""


def test_entries_keep_bare_id_doi_journal_ref_and_unwrapped_title():
    report = import_text(FEED)
    paper = Paper.objects.get(arxiv_id="1403.7984")
    assert paper.title == "Mori Dream Stacks"
    assert paper.arxiv_id == "1403.7984"
    assert paper.doi == "10.1007/s00209-015-1472-1"
    assert paper.venue == "Séminaire 280, 2015"
    assert paper.abstract == "A summary on two lines."
    assert paper.year == 2014
    assert [t.name for t in paper.tags.all()] == ["math.AG"]
    # An entry from another Atom feed has a title, so it imports, without an arXiv id.
    (warned,) = report.warned
    assert (warned.line, warned.status, warned.warnings) == (
        17,
        "created",
        ["id: 'http://example.org/not-arxiv' is not an arXiv abs URL; no arXiv id"],
    )
    assert Paper.objects.get(title="Elsewhere").arxiv_id == ""


def test_text_that_is_not_xml_is_refused_with_the_position():
    with pytest.raises(ImportFormatError, match=r"line 2, column \d+: not well-formed XML"):
        import_text("<feed>\n<entry></feed>")


def test_xml_with_entity_declarations_is_refused():
    bomb = '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><feed>&lol;</feed>'
    with pytest.raises(ImportFormatError, match="DOCTYPE"):
        import_text(bomb)


def test_xml_that_is_not_an_atom_feed_is_refused():
    with pytest.raises(ImportFormatError, match="expected an Atom <feed>"):
        import_text("<html><body>arXiv is down</body></html>")
