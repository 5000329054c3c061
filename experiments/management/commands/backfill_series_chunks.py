from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from experiments.models import Experiment, MetricPoint, MetricSummary, Run, SeriesChunk
from experiments.models.chunks import backfill


class Command(BaseCommand):
    help = (
        "Rebuild the packed copies (SeriesChunk) of logged metric series from their points; "
        "the migration that adds them does this once, ingest keeps them up to date afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--experiment", default="", help="Only this experiment, e.g. EXP-12")

    def handle(self, *args, experiment, **options):
        runs = Run.objects.order_by("pk")
        if experiment:
            found = Experiment.objects.filter(key=experiment).first()
            if found is None:
                raise CommandError(f"No experiment with key {experiment!r}.")
            runs = runs.filter(experiment=found)
        rebuilt = 0
        for run_id in runs.values_list("pk", flat=True):
            with transaction.atomic():
                # The run's lock keeps a batch arriving meanwhile from being packed twice.
                locked = list(Run.objects.select_for_update().filter(pk=run_id))
                rebuilt += backfill(SeriesChunk, MetricSummary, MetricPoint, runs=locked)
        self.stdout.write(f"Rebuilt the packed series of {rebuilt} series.")
