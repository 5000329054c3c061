from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse


@permission_required("radar.view_technique", raise_exception=True)
def radar(request):
    return TemplateResponse(request, "radar/radar.html", {})


@permission_required("radar.view_technique", raise_exception=True)
def review_list(request):
    return TemplateResponse(request, "radar/radar.html", {})


@permission_required("radar.view_technique", raise_exception=True)
def home_panel(request):
    return TemplateResponse(request, "radar/_home_panel.html", {})
