from django.urls import path

from . import views

app_name = "radar"
urlpatterns = [
    path("", views.radar, name="radar"),
    path("reviews/", views.review_list, name="review_list"),
    path("panel/", views.home_panel, name="home_panel"),
]
