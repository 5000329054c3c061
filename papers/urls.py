from django.urls import path

from . import views

app_name = "papers"
urlpatterns = [
    path("", views.paper_list, name="paper_list"),
    path("search/", views.paper_list, name="search"),
    path("questions/", views.paper_list, name="question_list"),
    path("panel/", views.home_panel, name="home_panel"),
]
