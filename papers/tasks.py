from celery import shared_task


@shared_task(name="papers.tasks.reconcile_indexes")
def reconcile_indexes():
    """Bring every vector index up to date with the database. (Filled in by the search work.)"""
