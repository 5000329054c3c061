from celery import shared_task


@shared_task(name="experiments.tasks.check_all_experiments")
def check_all_experiments():
    """Flag expired time-boxes and tripped criteria. (Filled in by the experiments work.)"""
