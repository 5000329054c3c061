import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _warm_up_search():
    """Only web processes (gunicorn workers, runserver) import this module: load the default
    embedding model now, in the background, so the first search does not wait for it."""
    from django.conf import settings

    if settings.ASSAY_WARM_UP_SEARCH:
        from papers.embeddings import warm_up_in_background

        warm_up_in_background()


_warm_up_search()
