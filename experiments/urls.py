from django.urls import path

from .views import experiments, tokens

app_name = "experiments"
urlpatterns = [
    # --- experiments, criteria, gates, evidence pages ---
    path("", experiments.experiment_list, name="experiment_list"),
    path("panel/", experiments.home_panel, name="home_panel"),
    # --- tokens ---
    path("<int:pk>/tokens/", tokens.token_list, name="token_list"),
    path("<int:pk>/tokens/new/", tokens.token_create, name="token_create"),
    path("<int:pk>/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
]
