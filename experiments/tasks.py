from celery import shared_task
from django.core.cache import cache

from core.tasks import enqueue

from .models import Experiment


@shared_task(name="experiments.tasks.evaluate_experiment")
def evaluate_experiment(experiment_id):
    """Re-evaluate an experiment's criteria and flags after runs report. Idempotent."""
    experiment = Experiment.objects.filter(pk=experiment_id).first()
    if experiment is None:
        return None
    return experiment.evaluate()


@shared_task(name="experiments.tasks.check_all_experiments")
def check_all_experiments():
    """Periodic: re-evaluate every active experiment, so time-boxes that ran out get flagged
    even when no run reports any more. Returns how many experiments are flagged."""
    flagged = 0
    for experiment_id in Experiment.objects.active().values_list("pk", flat=True):
        if evaluate_experiment(experiment_id):
            flagged += 1
    return flagged


# A job logging many batches a second should not queue an evaluation for each of them; a
# finish always queues one, so the final evidence is always evaluated.
EVALUATION_DEBOUNCE_SECONDS = 2


def queue_evaluation(experiment, *, debounce):
    """Queue evaluate_experiment after new evidence (the native and the MLflow API both call it);
    with `debounce`, at most once per experiment every EVALUATION_DEBOUNCE_SECONDS."""
    if debounce and not cache.add(
        f"assay:evaluate:{experiment.pk}", True, EVALUATION_DEBOUNCE_SECONDS
    ):
        return
    enqueue(evaluate_experiment, experiment.pk)
