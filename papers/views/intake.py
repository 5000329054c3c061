"""The triage inbox and the watches that fill it."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.forms import submit_form
from core.htmx import form_response
from core.tasks import enqueue

from ..forms import TriageForm, WatchForm
from ..models import TriageItem, Watch
from ..tasks import poll_watch

# The inbox shows this many untriaged items at a time, newest first; the count says how many.
INBOX_PAGE = 100


def _get_watch_for_user(request, pk):
    if not request.user.has_perm("papers.view_watch"):
        raise PermissionDenied
    return get_object_or_404(Watch, pk=pk)


def _get_item_for_user(request, pk):
    if not request.user.has_perm("papers.change_triageitem"):
        raise PermissionDenied
    return get_object_or_404(TriageItem.objects.select_related("watch"), pk=pk)


def _inbox_context(**extra):
    untriaged = TriageItem.objects.untriaged().select_related("watch")
    return {
        "items": untriaged[:INBOX_PAGE],
        "untriaged_count": untriaged.count(),
        **extra,
    }


def _page_context(request, watch_form=None):
    return _inbox_context(
        watches=Watch.objects.all(),
        watch_form=watch_form or WatchForm(),
    )


@permission_required("papers.view_triageitem", raise_exception=True)
def triage_inbox(request):
    return TemplateResponse(request, "papers/triage_inbox.html", _page_context(request))


@require_POST
def triage_item(request, pk):
    item = _get_item_for_user(request, pk)
    form = TriageForm(request.POST)
    ok = submit_form(form, lambda: item.triage(form.status, by=request.user))
    read_now = ok and item.status == TriageItem.Status.READ_NOW
    return form_response(
        request,
        ok=ok,
        template="papers/triage_inbox.html",
        partial="inbox",
        context=lambda: _inbox_context(triage_form=form),
        page_context=lambda: _page_context(request),
        # Read now opens the paper's note, where the first pass is written down.
        redirect_to=reverse("papers:note_edit", args=[item.paper_id])
        if read_now
        else "papers:triage_inbox",
        hx_redirect=read_now,
    )


@require_POST
@permission_required("papers.add_watch", raise_exception=True)
def watch_create(request):
    form = WatchForm(request.POST)
    if form.is_valid():
        with transaction.atomic():
            watch = form.save(commit=False)
            watch.created_by = request.user
            watch.save()
            # The first poll fills the inbox now rather than at the next periodic round.
            enqueue(poll_watch, watch.pk)
        messages.success(request, f"Watching {watch.name}; its first matches arrive shortly.")
        return redirect(watch)
    return TemplateResponse(
        request, "papers/triage_inbox.html", _page_context(request, watch_form=form), status=400
    )


def watch_detail(request, pk):
    watch = _get_watch_for_user(request, pk)
    context = {
        "watch": watch,
        "items": watch.items.select_related("paper", "triaged_by")[:200],
        "new_count": watch.items.untriaged().count(),
    }
    return TemplateResponse(request, "papers/watch_detail.html", context)


@require_POST
def watch_poll(request, pk):
    watch = _get_watch_for_user(request, pk)
    if not request.user.has_perm("papers.change_watch"):
        raise PermissionDenied
    with transaction.atomic():
        enqueue(poll_watch, watch.pk)
    messages.success(request, "Poll queued: new matches appear in the inbox.")
    return redirect(watch)


@require_POST
def watch_toggle(request, pk):
    watch = _get_watch_for_user(request, pk)
    if not request.user.has_perm("papers.change_watch"):
        raise PermissionDenied
    watch.active = not watch.active
    watch.save(update_fields=["active"])
    messages.success(request, f"{watch.name} is {'active' if watch.active else 'paused'}.")
    return redirect(watch)
