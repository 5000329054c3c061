"""Import upload with its per-record report, and export download."""

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from ..exporters import EXPORTERS
from ..forms import ImportForm
from ..importers import ImportFormatError, import_text
from ..models import Paper


@permission_required("papers.add_paper", raise_exception=True)
def paper_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    report, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            try:
                report = import_text(
                    form.cleaned_data["file"],
                    dry_run=form.cleaned_data["dry_run"],
                    # Merging deletes papers, which a Member may not do (issue 9).
                    may_merge_papers=request.user.has_perm("papers.delete_paper"),
                )
            except ImportFormatError as error:
                form.add_error("file", f"The file cannot be imported: {error}.")
        if not form.is_valid():
            status = 400
    context = {
        "form": form,
        "report": report,
        "exporters": EXPORTERS,
    }
    return TemplateResponse(request, "papers/paper_import.html", context, status=status)


@permission_required("papers.view_paper", raise_exception=True)
def paper_export(request):
    name = request.GET.get("format", "bibtex")
    exporter = EXPORTERS.get(name)
    if exporter is None:
        raise Http404(f"Unknown export format {name!r}: use one of {', '.join(EXPORTERS)}.")
    response = HttpResponse(
        exporter.export(Paper.objects.all()), content_type=exporter.content_type
    )
    filename = f"assay-papers-{timezone.localdate():%Y-%m-%d}.{exporter.extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
