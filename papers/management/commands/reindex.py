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
        "Embed papers and (re)build the vector index of each embedding model, and the keyword "
        "index. Without --if-needed every vector is recomputed and every index rebuilt; with "
        "it, only missing or stale vectors are embedded and only indexes that drifted "
        "from the database are updated (cheap when nothing changed: run it at start-up)."
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
        self._keyword(if_needed, verbosity)
        for name in models:
            # MiniLM's ONNX query encoder is exported here (once per machine), not by a search.
            prepare_query_backend(name)
            if if_needed and vector_index.check(name).ok:
                if verbosity:
                    self.stdout.write(f"{name}: up to date")
                continue
            with tqdm(desc=f"{name}", unit="paper", disable=not verbosity) as bar:
                if not reindex_model(name, rebuild=not if_needed, progress=_progress(bar)):
                    raise CommandError(f"{name}: another reindex is running; try again later")
            state = vector_index.IndexState.for_model(name)
            if verbosity:
                self.stdout.write(f"{name}: index v{state.version}, {state.kind}, {state.count}")

    def _keyword(self, if_needed, verbosity):
        with tqdm(desc="keyword", unit="paper", disable=not verbosity) as bar:
            if if_needed:
                written = keyword.update_documents(progress=_progress(bar))
            else:
                state = keyword.rebuild(progress=_progress(bar))
                if state.status != state.Status.DONE:
                    raise CommandError("keyword: another rebuild is running; try again later")
                written = state.count
        if verbosity:
            version = keyword.IndexState.for_model(keyword.KEYWORD_STATE).version
            self.stdout.write(f"keyword: index v{version}, {written} papers written")


def _progress(bar):
    def progress(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return progress
