from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse


@permission_required("papers.view_paper", raise_exception=True)
def search(request):
    return TemplateResponse(request, "papers/search.html", {})
