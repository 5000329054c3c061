from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from experiments.models import Experiment, MetricSummary, Run
from experiments.models.curves import rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the chart tiles (CurveTile) of logged metric series from their points; ingest "
        "keeps them up to date, the migrations that change them rebuild them once."
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
                # The run's lock keeps a batch arriving meanwhile from being folded in twice.
                list(Run.objects.select_for_update().filter(pk=run_id))
                series = list(
                    MetricSummary.objects.filter(run_id=run_id, bucket="", count__gt=0)
                    .order_by("key")
                    .values_list("run_id", "key")
                )
                rebuild(series)
                rebuilt += len(series)
        self.stdout.write(f"Rebuilt the tiles of {rebuilt} series.")
