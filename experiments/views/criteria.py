"""Criteria: added before their stage's first run, superseded with a reason and a Lead's
approval after, checked by hand."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from core.htmx import form_response

from ..forms import CRITERION_FIELDS, CheckForm, CriterionForm, SupersedeForm
from ..models import Criterion, SupersedeProposal
from .common import get_experiment_for_user
from .experiments import PAGE, criteria_context


def criterion_add(request, pk):
    experiment = get_experiment_for_user(request, pk, edit=True)
    form = CriterionForm(request.POST or None, instance=Criterion(experiment=experiment))
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in CRITERION_FIELDS}
        try:
            experiment.add_criterion(by=request.user, **fields)
        except ValidationError as frozen:
            form.add_error(None, frozen)
        else:
            return redirect(experiment)
    context = {
        "experiment": experiment,
        "form": form,
        "frozen_stages": experiment.freezes.order_by("frozen_at"),
    }
    status = 400 if form.errors else 200
    return TemplateResponse(request, "experiments/criterion_form.html", context, status=status)


def criterion_supersede(request, pk, criterion_id):
    experiment = get_experiment_for_user(request, pk, edit=True)
    criterion = get_object_or_404(experiment.criteria.current(), pk=criterion_id)
    # A fresh instance: a ModelForm writes its data onto its instance, and the old row's
    # definition must stay as it was.
    form = SupersedeForm(
        request.POST or None,
        instance=Criterion(experiment=experiment),
        initial={**model_to_dict(criterion, fields=CRITERION_FIELDS), "statement": ""},
    )
    if request.method == "POST" and form.is_valid():
        changes = {
            name: form.cleaned_data[name]
            for name in CRITERION_FIELDS
            if form.cleaned_data[name] != getattr(criterion, name)
        }
        if "reference_run" in changes:
            # By id: a proposal keeps its changes as JSON.
            run = changes.pop("reference_run")
            changes["reference_run_id"] = run.pk if run else None
        reason = form.cleaned_data["reason"]
        # A Lead supersedes; the owner proposes, and a Lead approves on the experiment page.
        lead = request.user.has_perm("experiments.sign_gate")
        try:
            if lead:
                criterion.supersede(by=request.user, reason=reason, **changes)
            else:
                criterion.propose_supersede(by=request.user, reason=reason, **changes)
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            messages.success(
                request,
                "Criterion superseded; the old one stays visible."
                if lead
                else "Change proposed: a Lead approves it on this page.",
            )
            return redirect(experiment)
    context = {"experiment": experiment, "form": form, "criterion": criterion}
    status = 400 if form.errors else 200
    return TemplateResponse(request, "experiments/criterion_form.html", context, status=status)


@require_POST
@permission_required("experiments.sign_gate", raise_exception=True)
def supersede_proposal_decide(request, pk, supersede_proposal_id):
    experiment = get_experiment_for_user(request, pk)
    proposal = get_object_or_404(
        SupersedeProposal.objects.filter(criterion__experiment=experiment),
        pk=supersede_proposal_id,
    )
    try:
        if request.POST.get("action") == "approve":
            proposal.approve(by=request.user)
            messages.success(request, "Criterion superseded as proposed.")
        else:
            proposal.dismiss(by=request.user, note=request.POST.get("note", ""))
            messages.success(request, "Proposal dismissed.")
    except ValidationError as invalid:
        messages.error(request, " ".join(invalid.messages))
    return redirect(experiment)


@require_POST
def criterion_check(request, pk, criterion_id):
    experiment = get_experiment_for_user(request, pk, edit=True)
    criterion = get_object_or_404(experiment.criteria.current(), pk=criterion_id)
    form = CheckForm(request.POST)
    error = None
    if form.is_valid():
        try:
            criterion.check_by_hand(
                by=request.user, holds=form.cleaned_data["holds"], note=form.cleaned_data["note"]
            )
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
    else:
        error = "Choose whether the criterion holds."
    # A plain POST goes back to the page either way, with the error as a message.
    if error and not request.htmx:
        messages.error(request, error)
    return form_response(
        request,
        ok=True,
        template=PAGE,
        partial="criteria",
        context=lambda: criteria_context(request, experiment, error=error),
        redirect_to=experiment,
    )
