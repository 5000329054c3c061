from django.urls import path

from . import views

# Served under /radar/ beside the radar's own pages, where these pages have always been.
app_name = "review"
urlpatterns = [
    path("portfolio/", views.portfolio, name="portfolio"),
    path("portfolio/quality-cost/", views.portfolio_front, name="portfolio_front"),
    path("reviews/", views.review_list, name="review_list"),
    path("reviews/new/", views.review_create, name="review_create"),
    path("reviews/<int:pk>/", views.review_detail, name="review_detail"),
    path("reviews/<int:pk>/move/", views.review_move, name="review_move"),
    path("reviews/<int:pk>/minutes.md", views.review_minutes, name="review_minutes"),
    path("reviews/<int:pk>/minutes/", views.review_minutes_edit, name="review_minutes_edit"),
    path("reviews/<int:pk>/reassign/", views.review_reassign, name="review_reassign"),
    path("reviews/<int:pk>/deep-dives/", views.deep_dive_add, name="deep_dive_add"),
    path(
        "reviews/<int:pk>/deep-dives/<int:deep_dive_pk>/decide/",
        views.deep_dive_decide,
        name="deep_dive_decide",
    ),
    path(
        "reviews/<int:pk>/nominations/<int:nomination_pk>/accept/",
        views.nomination_accept,
        name="nomination_accept",
    ),
    path(
        "reviews/<int:pk>/nominations/<int:nomination_pk>/decline/",
        views.nomination_decline,
        name="nomination_decline",
    ),
    path("nominations/", views.nomination_list, name="nomination_list"),
    path("nominations/new/", views.nomination_create, name="nomination_create"),
]
