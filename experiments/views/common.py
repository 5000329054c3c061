"""Fetch helpers that scope every object a view touches to what the user may do with it."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from ..models import Experiment


def get_experiment_for_user(request, pk, *, edit=False):
    """The experiment, if the user may see it (and edit it, with `edit`), else 403/404."""
    if not request.user.has_perm("experiments.view_experiment"):
        raise PermissionDenied
    experiment = get_object_or_404(
        Experiment.objects.select_related("technique", "owner").prefetch_related("timeboxes"),
        pk=pk,
    )
    if edit and not experiment.editable_by(request.user):
        raise PermissionDenied("Only the experiment's owner or a Lead can change it.")
    return experiment
