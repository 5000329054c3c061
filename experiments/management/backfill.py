"""What backfill_curve_tiles and backfill_series_chunks share: derived rows of each logged
series rebuilt from its points, run by run under the run's lock."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from experiments.models import Experiment, MetricPoint, MetricSummary, Run


class BackfillCommand(BaseCommand):
    model = None  # the derived rows (CurveTile, SeriesChunk)
    backfill = None  # its module's backfill(model, MetricSummary, MetricPoint, runs=...)
    rebuilt = ""  # what the closing line says was rebuilt, e.g. "the tiles"

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
                # The run's lock keeps a batch arriving meanwhile from being folded in twice.
                locked = list(Run.objects.select_for_update().filter(pk=run_id))
                rebuilt += self.backfill(self.model, MetricSummary, MetricPoint, runs=locked)
        self.stdout.write(f"Rebuilt {self.rebuilt} of {rebuilt} series.")
