"""Import a BYOR file through the browser; export the radar as BYOR CSV/JSON or Markdown."""

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse

from ..forms import ImportForm
from ..interchange import EXPORTERS, SKIP_AS_CHOICES, ImportFileError, export_markdown, import_radar

EXPORT_TYPES = {
    "byor-csv": ("text/csv; charset=utf-8", "radar.csv"),
    "byor-json": ("application/json", "radar.json"),
    "markdown": ("text/markdown; charset=utf-8", "radar.md"),
}


@permission_required("radar.add_technique", raise_exception=True)
@permission_required("radar.move_technique", raise_exception=True)
def radar_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    report = file_error = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = import_radar(
                upload.read(),
                filename=upload.name,
                owner=request.user,
                dry_run=form.cleaned_data["dry_run"],
            )
        except ImportFileError as error:
            file_error = str(error)
    failed = request.method == "POST" and (not form.is_valid() or file_error or report.rejected)
    return TemplateResponse(
        request,
        "radar/import.html",
        {"form": form, "report": report, "file_error": file_error},
        status=400 if failed else 200,
    )


@permission_required("radar.view_technique", raise_exception=True)
def radar_export(request):
    export_format = request.GET.get("format", "byor-csv")
    if export_format not in EXPORT_TYPES:
        raise Http404(f"Unknown export format {export_format!r}")
    skip_as = request.GET.get("skip_as", "hold")
    if skip_as not in SKIP_AS_CHOICES:
        raise Http404(f"Unknown skip_as {skip_as!r}")
    if export_format == "markdown":
        export = export_markdown()
    else:
        export = EXPORTERS[export_format](skip_as=skip_as)
    content_type, filename = EXPORT_TYPES[export_format]
    response = HttpResponse(export.text, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if export.brief_notes:
        # Counts only: technique names are data, and headers end up in proxy and browser logs.
        response["X-Assay-Export-Notes"] = " | ".join(export.brief_notes)
    return response
