from experiments.management.backfill import BackfillCommand
from experiments.models import SeriesChunk
from experiments.models.chunks import backfill


class Command(BackfillCommand):
    help = (
        "Rebuild the packed copies (SeriesChunk) of logged metric series from their points; "
        "the migration that adds them does this once, ingest keeps them up to date afterwards."
    )
    model, backfill, rebuilt = SeriesChunk, staticmethod(backfill), "the packed series"
