from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse


@permission_required("experiments.view_experiment", raise_exception=True)
def experiment_list(request):
    return TemplateResponse(request, "experiments/experiment_list.html", {})


@permission_required("experiments.view_experiment", raise_exception=True)
def home_panel(request):
    return TemplateResponse(request, "experiments/_home_panel.html", {})
