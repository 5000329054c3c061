"""Criteria: added before any run, superseded with a reason after, checked by hand."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..forms import CRITERION_FIELDS, CheckForm, CriterionForm, SupersedeForm
from ..models import Criterion
from .common import get_experiment_for_user
from .experiments import PAGE, criteria_context


def criterion_add(request, pk):
    experiment = get_experiment_for_user(request, pk, edit=True)
    form = CriterionForm(request.POST or None, instance=Criterion(experiment=experiment))
    if request.method == "POST" and form.is_valid():
        criterion = form.save(commit=False)
        criterion.created_by = request.user
        try:
            criterion.save()
        except ValidationError as frozen:
            form.add_error(None, frozen)
        else:
            experiment.record("criterion", f"Criterion added: “{criterion}”", by=request.user)
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
        changes = {name: form.cleaned_data[name] for name in CRITERION_FIELDS}
        try:
            criterion.supersede(by=request.user, reason=form.cleaned_data["reason"], **changes)
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            messages.success(request, "Criterion superseded; the old one stays visible.")
            return redirect(experiment)
    context = {"experiment": experiment, "form": form, "criterion": criterion}
    status = 400 if form.errors else 200
    return TemplateResponse(request, "experiments/criterion_form.html", context, status=status)


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
    if request.htmx:
        context = criteria_context(request, experiment, error=error)
        return TemplateResponse(request, f"{PAGE}#criteria", context)
    if error:
        messages.error(request, error)
    return redirect(experiment)
