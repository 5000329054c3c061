"""Post-mortems of killed and rolled-back experiments."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..forms import ActionItemForm, FailureForm, PostMortemForm
from ..models import PostMortem
from .common import get_experiment_for_user


def _get_postmortem_for_user(request, pk, *, edit=False):
    experiment = get_experiment_for_user(request, pk, edit=edit)
    if not experiment.is_closed:
        raise PermissionDenied(
            "Post-mortems are for killed or rolled-back experiments; this one is "
            f"{experiment.get_status_display().lower()}."
        )
    postmortem = PostMortem.objects.filter(experiment=experiment).first()
    return experiment, postmortem


def postmortem_detail(request, pk):
    experiment, postmortem = _get_postmortem_for_user(request, pk)
    can_edit = experiment.editable_by(request.user)
    form = PostMortemForm(request.POST or None, instance=postmortem)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the experiment's owner or a Lead writes its post-mortem.")
        if form.is_valid():
            experiment.write_postmortem(by=request.user, **form.cleaned_data)
            return redirect("experiments:postmortem_detail", pk=experiment.pk)
    context = _context(request, experiment, postmortem, form=form, can_edit=can_edit)
    return TemplateResponse(
        request, "experiments/postmortem.html", context, status=400 if form.errors else 200
    )


@require_POST
def failure_add(request, pk):
    return _add_part(request, pk, FailureForm, "failure_form")


@require_POST
def action_item_add(request, pk):
    return _add_part(request, pk, ActionItemForm, "action_form")


@require_POST
def action_item_toggle(request, pk, item_id):
    experiment, postmortem = _get_postmortem_for_user(request, pk, edit=True)
    item = get_object_or_404(postmortem.action_items if postmortem else None, pk=item_id)
    item.done = not item.done
    item.save(update_fields=["done"])
    return redirect("experiments:postmortem_detail", pk=experiment.pk)


def _add_part(request, pk, form_class, name):
    experiment, postmortem = _get_postmortem_for_user(request, pk, edit=True)
    if postmortem is None:
        raise PermissionDenied("Write the post-mortem before adding to it.")
    form = form_class(request.POST)
    if form.is_valid():
        part = form.save(commit=False)
        part.postmortem = postmortem
        part.save()
        return redirect("experiments:postmortem_detail", pk=experiment.pk)
    context = _context(request, experiment, postmortem, can_edit=True, **{name: form})
    return TemplateResponse(request, "experiments/postmortem.html", context, status=400)


def _context(request, experiment, postmortem, *, can_edit, **forms):
    return {
        "experiment": experiment,
        "postmortem": postmortem,
        "can_edit": can_edit,
        "form": forms.get("form") or PostMortemForm(instance=postmortem),
        "failure_form": forms.get("failure_form") or FailureForm(),
        "action_form": forms.get("action_form") or ActionItemForm(),
        "events": experiment.events.select_related("actor").order_by("created_at", "id"),
        "failures": postmortem.failures.all() if postmortem else [],
        "action_items": postmortem.action_items.select_related("owner") if postmortem else [],
    }
