from django.urls import path

from .views import experiments

app_name = "experiments"
urlpatterns = [
    # --- experiments, criteria, gates, evidence pages ---
    path("", experiments.experiment_list, name="experiment_list"),
    path("panel/", experiments.home_panel, name="home_panel"),
    # --- tokens ---
]
