from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView

from core import views as core_views

from .api import api


def _api_urls():
    """The API's URL patterns, exempt from the login redirect (ninja checks tokens itself)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace


urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("radar/", include("radar.urls")),
    path("radar/", include("review.urls")),
    path("papers/", include("papers.urls")),
    path("experiments/", include("experiments.urls")),
    # One login form, the throttled one: the admin's own would let guessing go around it.
    path(
        "admin/login/",
        login_not_required(RedirectView.as_view(pattern_name="login", query_string=True)),
        name="admin_login",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", _api_urls()),
    # MLflow's tracking API for scripts written for MLflow (its views check tokens).
    path("mlflow/", include("experiments.mlflow_urls")),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
