from django.urls import path

from . import views

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list, name="experiment_list"),
    path("panel/", views.home_panel, name="home_panel"),
]
