"""Gate decisions and the radar moves they propose: htmx in place, plain POST as fallback."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from core.forms import add_field_errors
from core.htmx import form_response

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
            error = add_field_errors(form, invalid)
        else:
            return _decided(request, experiment, f"Recorded: {decision}.")
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
            message = f"Radar move {proposal.get_status_display().lower()}."
            return _decided(request, experiment, message)
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


def _decided(request, experiment, message):
    # The stage, status and history changed too: for htmx they come along as out-of-band swaps.
    return form_response(
        request,
        ok=True,
        template=PAGE,
        partial="gate_decided",
        context=lambda: gate_decided_context(request, experiment),
        redirect_to=experiment,
        success_message=message,
    )


def _rerender(request, experiment, *, form=None, error=None):
    """The gate region with its errors; a conflict or a closed gate (`error`) is a 409."""
    return form_response(
        request,
        ok=False,
        template=PAGE,
        partial="gate",
        context=lambda: gate_context(request, experiment, form=form, error=error),
        page_context=lambda: page_context(request, experiment, gate_form=form, gate_error=error),
        invalid_status=409 if error else 400,
    )
