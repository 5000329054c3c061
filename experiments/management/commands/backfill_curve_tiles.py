from experiments.management.backfill import BackfillCommand
from experiments.models import CurveTile
from experiments.models.curves import backfill


class Command(BackfillCommand):
    help = (
        "Rebuild the chart tiles (CurveTile) of logged metric series from their points; the "
        "migration that adds them does this once, ingest keeps them up to date afterwards."
    )
    model, backfill, rebuilt = CurveTile, staticmethod(backfill), "the tiles"
