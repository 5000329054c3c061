from celery import shared_task

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
