"""The MLflow-compatible API, mounted at /mlflow/ (see experiments/mlflow_api.py).

MLflow's client calls /api/2.0/mlflow/...; its web UI calls the same under /ajax-api/.
"""

from django.urls import path, re_path

from . import mlflow_api as views

ENDPOINTS = {
    "experiments/get-by-name": views.experiment_get_by_name,
    "experiments/get": views.experiment_get,
    "experiments/create": views.experiment_create,
    "runs/create": views.run_create,
    "runs/get": views.run_get,
    "runs/update": views.run_update,
    "runs/search": views.run_search,
    "runs/log-metric": views.run_log_metric,
    "runs/log-batch": views.run_log_batch,
    "runs/log-parameter": views.run_log_parameter,
    "runs/set-tag": views.run_set_tag,
    "metrics/get-history": views.metric_get_history,
}

urlpatterns = [
    path(f"{prefix}/2.0/mlflow/{endpoint}", view)
    for prefix in ("api", "ajax-api")
    for endpoint, view in ENDPOINTS.items()
] + [re_path(r"^(?P<path>.*)$", views.not_found)]
