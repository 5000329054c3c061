"""Keyword search on a real PostgreSQL: the same Tantivy engine as on SQLite (no database FTS)."""

import json

import pytest

from tests.services import manage, migrated_database, service_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = """
import json
from papers import keyword
from papers.models import Paper, Passage
from papers.search import search

title = Paper.objects.create(title="Contrastive learning of visual representations")
body = Paper.objects.create(title="SimCLR v2", abstract="Big self-supervised contrastive models")
passage = Passage.objects.create(paper=body, page=3, ordinal=0, text="The projection head matters")
found = {
    "contrastive": [r.paper.pk == title.pk for r in search("contrastive", mode="keyword")],
    "passage": [(r.paper.pk == body.pk, r.passage.page, r.highlights["snippet"])
                for r in search("projection head", mode="keyword")],
}
body.delete()
found["after delete"] = [r.paper.pk == title.pk for r in search("contrastive", mode="keyword")]
found["check"] = keyword.check()
print("RESULT", json.dumps(found))
"""


def test_keyword_search_works_the_same_on_postgresql(request, tmp_path_factory):
    _, database_url = migrated_database(request, tmp_path_factory, "assay_keyword")
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=None,
        ASSAY_DATA_DIR=str(tmp_path_factory.mktemp("keyword-data")),
        ASSAY_EMBEDDING_MODELS="wordllama",
        ASSAY_TASKS_IN_BACKGROUND="false",
    )
    output = manage(env, "shell", "-c", SCRIPT, timeout=300)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    assert found["contrastive"] == [True, False]  # the title match first
    assert found["passage"] == [[True, 3, "The <mark>projection</mark> <mark>head</mark> matters"]]
    assert found["after delete"] == [True]
    assert found["check"] == []
