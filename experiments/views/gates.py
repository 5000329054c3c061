"""Gate decisions and the radar moves they propose: htmx in place, plain POST as fallback."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..forms import CarryOverForm, GateDecisionForm, ProposalDecisionForm
from .common import get_experiment_for_user
from .experiments import PAGE, gate_context, gate_decided_context, page_context


@require_POST
@permission_required("experiments.sign_gate", raise_exception=True)
def gate_decide(request, pk):
    experiment = get_experiment_for_user(request, pk)
    form = GateDecisionForm(request.POST)
    error = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            decision = experiment.decide_gate(
                data["decision"],
                by=request.user,
                stage=data["stage"],
                round=data["round"],
                conditions=data["conditions"],
                learnings=data["learnings"],
                notes=data["notes"],
                override_reason=data["override_reason"],
            )
        except ValidationError as invalid:
            error = _attach(form, invalid)
        else:
            if request.htmx:
                return _decided(request, experiment)
            messages.success(request, f"Recorded: {decision}.")
            return redirect(experiment)
    return _rerender(request, experiment, form=form, error=error)


@require_POST
@permission_required("radar.move_technique", raise_exception=True)
def proposal_decide(request, pk, proposal_id):
    experiment = get_experiment_for_user(request, pk)
    proposal = get_object_or_404(experiment.radar_proposals, pk=proposal_id)
    form = ProposalDecisionForm(request.POST)
    error = None
    if form.is_valid():
        act = proposal.confirm if form.cleaned_data["action"] == "confirm" else proposal.dismiss
        try:
            act(by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
        else:
            if request.htmx:
                return _decided(request, experiment)
            messages.success(request, f"Radar move {proposal.get_status_display().lower()}.")
            return redirect(experiment)
    else:
        error = "Choose confirm or dismiss and give the reason."
    return _rerender(request, experiment, error=error)


@require_POST
@permission_required("experiments.sign_gate", raise_exception=True)
def runs_carry_over(request, pk):
    experiment = get_experiment_for_user(request, pk)
    form = CarryOverForm(request.POST, experiment=experiment)
    error = None
    if form.is_valid():
        try:
            carried = experiment.carry_runs_over(
                form.cleaned_data["runs"], by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
        else:
            messages.success(request, f"{len(carried)} run(s) now count for this gate.")
            return redirect(experiment)
    else:
        error = " ".join(message for errors in form.errors.values() for message in errors)
    return _rerender(request, experiment, error=error)


def _decided(request, experiment):
    # The stage, status and history changed too: they come along as out-of-band swaps.
    context = gate_decided_context(request, experiment)
    return TemplateResponse(request, f"{PAGE}#gate_decided", context)


def _attach(form, invalid):
    """Field errors onto the form; a conflict or a closed gate comes back as one message."""
    if hasattr(invalid, "error_dict"):
        for field, errors in invalid.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    return " ".join(invalid.messages)


def _rerender(request, experiment, *, form=None, error=None):
    # htmx swaps only 2xx responses, so the region with its errors comes back as 200.
    if request.htmx:
        context = gate_context(request, experiment, form=form, error=error)
        return TemplateResponse(request, f"{PAGE}#gate", context)
    context = page_context(request, experiment, gate_form=form, gate_error=error)
    return TemplateResponse(request, PAGE, context, status=409 if error else 400)
