"""Decision memos (written from each gate decision's snapshot) and the knowledge-transfer
sections an Integration YES opens."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from core.forms import add_field_errors
from core.htmx import form_response

from .. import memos
from ..enums import ArtifactKind
from ..forms import KnowledgeArtifactForm
from .common import get_experiment_for_user
from .experiments import PAGE, memo_context, page_context


@permission_required("experiments.view_experiment", raise_exception=True)
def decision_memo(request, pk, decision_id):
    """The three memos of one decision as a Markdown file."""
    experiment = get_experiment_for_user(request, pk)
    decision = get_object_or_404(
        experiment.gate_decisions.select_related("decided_by", "experiment"), pk=decision_id
    )
    response = HttpResponse(
        memos.memo_document(decision), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{experiment.key}-{decision.stage}-round{decision.round}-memo.md"'
    )
    return response


@require_POST
def handover_write(request, pk, kind):
    """Write one knowledge-transfer section: the owner or a Lead."""
    experiment = get_experiment_for_user(request, pk, edit=True)
    if kind not in ArtifactKind.values:
        raise Http404("No such knowledge-transfer section.")
    form = KnowledgeArtifactForm(request.POST, kind=ArtifactKind(kind))
    error = None
    if form.is_valid():
        try:
            form.write(experiment, by=request.user)
        except ValidationError as invalid:
            error = add_field_errors(form, invalid)
        else:
            form = None

    def handover_context():
        return {
            "experiment": experiment,
            "can_edit": True,
            "handover_error": error,
            **memo_context(experiment, forms={kind: form} if form else None),
        }

    return form_response(
        request,
        ok=form is None,
        template=PAGE,
        partial="handover",
        context=handover_context,
        page_context=lambda: {**page_context(request, experiment), **handover_context()},
        redirect_to=experiment,
        invalid_status=409 if error else 400,
    )
