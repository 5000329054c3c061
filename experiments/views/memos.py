"""Decision memos (written from each gate decision's snapshot) and the knowledge-transfer
sections an Integration YES opens."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

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
            if hasattr(invalid, "error_dict"):
                for field, errors in invalid.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                error = " ".join(invalid.messages)
        else:
            if not request.htmx:
                return redirect(experiment)
            form = None
    context = {
        "experiment": experiment,
        "can_edit": True,
        "handover_error": error,
        **memo_context(experiment, forms={kind: form} if form else None),
    }
    if request.htmx:
        # htmx swaps only 2xx responses: the section with its errors comes back as 200.
        return TemplateResponse(request, "experiments/_handover.html", context)
    page = {**page_context(request, experiment), **context}
    return TemplateResponse(request, PAGE, page, status=409 if error else 400)
