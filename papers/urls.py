from django.urls import path

from .views import library, search

app_name = "papers"
urlpatterns = [
    # --- library, notes, questions, imports ---
    path("", library.paper_list, name="paper_list"),
    path("questions/", library.paper_list, name="question_list"),
    path("panel/", library.home_panel, name="home_panel"),
    # --- search ---
    path("search/", search.search, name="search"),
]
