from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse


@permission_required("papers.view_paper", raise_exception=True)
def paper_list(request):
    return TemplateResponse(request, "papers/paper_list.html", {})


@permission_required("papers.view_paper", raise_exception=True)
def home_panel(request):
    return TemplateResponse(request, "papers/_home_panel.html", {})
