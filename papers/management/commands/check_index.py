from django.core.management.base import BaseCommand, CommandError

from papers import keyword, vector_index
from papers.embeddings import UnknownModel, configured_models, resolve_model_name


class Command(BaseCommand):
    help = (
        "Report drift between the database and the index files (the keyword index, and the "
        "vector index of each model): papers without a "
        "vector or with a stale one, missing index files, indexes holding other vectors than "
        "the database. Exits with status 1 when anything drifted (fix: manage.py reindex "
        "--if-needed)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model", help="Only this embedding model's vector index (default: every index)."
        )

    def handle(self, *args, model=None, **options):
        try:
            models = [resolve_model_name(model)] if model else configured_models()
        except UnknownModel as error:
            raise CommandError(str(error)) from error
        drifted = False
        if not model:
            problems = keyword.check()
            drifted = bool(problems)
            for problem in problems or ["in sync"]:
                self.stdout.write(f"keyword: {problem}")
        for name in models:
            drift = vector_index.check(name)
            if drift.ok:
                self.stdout.write(f"{name}: in sync")
                continue
            drifted = True
            for problem in drift.problems:
                self.stdout.write(f"{name}: {problem}")
        if drifted:
            raise CommandError(
                "indexes drifted from the database; run manage.py reindex", returncode=1
            )
