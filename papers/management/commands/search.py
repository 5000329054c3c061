import json

from django.core.management.base import BaseCommand, CommandError

from papers.embeddings import UnknownModel
from papers.search import MAX_K, MODES, SearchError, search


class Command(BaseCommand):
    help = (
        "Search papers from the command line with the same ranking as the web search. Prints "
        "one line per paper (rank, score, id, year, title), or with --json a list of objects "
        "(id, title, year, score, keyword_rank, dense_rank), best first."
    )

    def add_arguments(self, parser):
        parser.add_argument("query", help="What to search for.")
        parser.add_argument("--model", help="Embedding model (default: the configured default).")
        parser.add_argument("--mode", choices=MODES, default="hybrid", help="Default: hybrid.")
        parser.add_argument(
            "-k", type=int, default=10, help=f"How many results, 1 to {MAX_K} (default 10)."
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print JSON for scripts."
        )

    def handle(self, *args, query, model=None, mode="hybrid", k=10, as_json=False, **options):
        try:
            results = search(query, model=model, mode=mode, k=k)
        except (SearchError, UnknownModel) as error:
            raise CommandError(str(error)) from error
        if as_json:
            self.stdout.write(json.dumps([_as_dict(result) for result in results]))
            return
        if not results:
            self.stdout.write("no papers match")
        for rank, result in enumerate(results, start=1):
            paper = result.paper
            self.stdout.write(
                f"{rank:>3}  {result.score:.4f}  #{paper.pk}  {paper.year or '----'}  {paper.title}"
            )


def _as_dict(result):
    return {
        "id": result.paper.pk,
        "title": result.paper.title,
        "year": result.paper.year,
        "score": result.score,
        "keyword_rank": result.keyword_rank,
        "dense_rank": result.dense_rank,
    }
