"""API tokens of an experiment: list, create (the key is shown once), revoke."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.htmx import for_htmx, form_response

from ..models import ApiToken, Experiment
from ..models.tokens import expiry_from_date

PAGE = "experiments/token_list.html"


def _get_experiment_for_user(request, pk, *, manage=False):
    """The experiment, if the user may see it (and manage its tokens when `manage`)."""
    if not request.user.has_perm("experiments.view_experiment"):
        raise PermissionDenied
    experiment = get_object_or_404(Experiment, pk=pk)
    if manage and not experiment.editable_by(request.user):
        raise PermissionDenied("Only the experiment's owner or a Lead manages its tokens.")
    return experiment


def _render(request, experiment, *, status=200, **context):
    return TemplateResponse(request, PAGE, _context(request, experiment, **context), status=status)


def _context(request, experiment, *, new_key=None, new_token=None, error=None, form=None):
    return {
        "error": error,
        "form": form or {},
        "experiment": experiment,
        "tokens": experiment.api_tokens.select_related("created_by"),
        "can_manage": experiment.editable_by(request.user),
        "new_key": new_key,
        "new_token": new_token,
    }


@permission_required("experiments.view_experiment", raise_exception=True)
@for_htmx(use_partial="tokens")
def token_list(request, pk):
    return _render(request, _get_experiment_for_user(request, pk))


@require_POST
@for_htmx(use_partial="tokens")
def token_create(request, pk):
    experiment = _get_experiment_for_user(request, pk, manage=True)
    try:
        expires_at = expiry_from_date(request.POST.get("expires_on", ""))
    except ValueError as error:
        return _render(request, experiment, status=400, error=str(error), form=request.POST)
    token, key = ApiToken.issue(
        experiment,
        name=request.POST.get("name", "").strip()[:100],
        read_only=request.POST.get("read_only") == "on",
        created_by=request.user,
        expires_at=expires_at,
    )
    # Rendered, not redirected: the key exists only in this response and is never stored.
    return _render(request, experiment, new_key=key, new_token=token, status=201)


@require_POST
def token_revoke(request, pk, token_id):
    experiment = _get_experiment_for_user(request, pk, manage=True)
    get_object_or_404(experiment.api_tokens, pk=token_id).revoke()
    return form_response(
        request,
        ok=True,
        template=PAGE,
        partial="tokens",
        context=lambda: _context(request, experiment),
        redirect_to=reverse("experiments:token_list", args=[experiment.pk]),
    )
