from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from papers import keyword, vector_index
from papers.embeddings import (
    UnknownModel,
    configured_models,
    prepare_query_backend,
    resolve_model_name,
)
from papers.tasks import reindex_model


class Command(BaseCommand):
    help = (
        "Embed papers and (re)build the vector index of each embedding model, and refresh the "
        "keyword documents. Without --if-needed every vector is recomputed and every index "
        "rebuilt; with it, only missing or stale vectors are embedded and only indexes that "
        "drifted from the database are updated (cheap when nothing changed: run it at start-up)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            help="Only this embedding model (default: every model in ASSAY_EMBEDDING_MODELS).",
        )
        parser.add_argument(
            "--if-needed",
            action="store_true",
            help="Only do what is missing or stale; do nothing when the indexes are in sync.",
        )

    def handle(self, *args, model=None, if_needed=False, verbosity=1, **options):
        try:
            models = [resolve_model_name(model)] if model else configured_models()
        except UnknownModel as error:
            raise CommandError(str(error)) from error
        written = keyword.refresh_documents()
        if verbosity:
            self.stdout.write(f"keyword documents: {written} refreshed")
        for name in models:
            # MiniLM's ONNX query encoder is exported here (once per machine), not by a search.
            prepare_query_backend(name)
            if if_needed and vector_index.check(name).ok:
                if verbosity:
                    self.stdout.write(f"{name}: up to date")
                continue
            with tqdm(desc=f"{name}", unit="paper", disable=not verbosity) as bar:

                def progress(done, total, bar=bar):
                    bar.total = total
                    bar.n = done
                    bar.refresh()

                if not reindex_model(name, rebuild=not if_needed, progress=progress):
                    raise CommandError(f"{name}: another reindex is running; try again later")
            state = vector_index.IndexState.for_model(name)
            if verbosity:
                self.stdout.write(f"{name}: index v{state.version}, {state.kind}, {state.count}")
