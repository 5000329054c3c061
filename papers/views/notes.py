"""Writing, editing and deleting one's own structured note on a paper."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..forms import PaperNoteForm
from ..models import PaperNote
from .library import get_paper_for_user


def _get_note_for_user(request, pk):
    """A note the user may act on: only its author may."""
    note = get_object_or_404(PaperNote.objects.select_related("paper"), pk=pk)
    if note.author_id != request.user.pk:
        raise PermissionDenied("Only the author of a note may change it.")
    return note


@permission_required("papers.add_papernote", raise_exception=True)
def note_edit(request, pk):
    """Write or edit the user's own note on paper `pk` (one note per reader per paper)."""
    paper = get_paper_for_user(request, pk)
    note = paper.notes.by(request.user).first() or PaperNote(paper=paper, author=request.user)
    form = PaperNoteForm(request.POST or None, instance=note)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Note saved.")
            return redirect(paper)
        status = 400
    else:
        status = 200
    context = {"paper": paper, "form": form, "note": note}
    return TemplateResponse(request, "papers/note_form.html", context, status=status)


@require_POST
@permission_required("papers.delete_papernote", raise_exception=True)
def note_delete(request, pk):
    note = _get_note_for_user(request, pk)
    paper = note.paper
    note.delete_by(request.user)
    messages.success(request, "Note deleted.")
    return redirect(paper)
