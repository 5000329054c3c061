from django.urls import path

from .views import radar, reviews, transfer

app_name = "radar"
urlpatterns = [
    path("", radar.radar, name="radar"),
    path("panel/", radar.home_panel, name="home_panel"),
    path("portfolio/", radar.portfolio, name="portfolio"),
    path("import/", transfer.radar_import, name="radar_import"),
    path("export/", transfer.radar_export, name="radar_export"),
    path("techniques/<slug:slug>/", radar.technique_detail, name="technique_detail"),
    path("techniques/<slug:slug>/move/", radar.technique_move, name="technique_move"),
    path("reviews/", reviews.review_list, name="review_list"),
    path("reviews/new/", reviews.review_create, name="review_create"),
    path("reviews/<int:pk>/", reviews.review_detail, name="review_detail"),
    path("reviews/<int:pk>/move/", reviews.review_move, name="review_move"),
    path("reviews/<int:pk>/minutes.md", reviews.review_minutes, name="review_minutes"),
    path("reviews/<int:pk>/minutes/", reviews.review_minutes_edit, name="review_minutes_edit"),
    path("reviews/<int:pk>/reassign/", reviews.review_reassign, name="review_reassign"),
    path("reviews/<int:pk>/deep-dives/", reviews.deep_dive_add, name="deep_dive_add"),
    path(
        "reviews/<int:pk>/deep-dives/<int:deep_dive_pk>/decide/",
        reviews.deep_dive_decide,
        name="deep_dive_decide",
    ),
    path(
        "reviews/<int:pk>/nominations/<int:nomination_pk>/accept/",
        reviews.nomination_accept,
        name="nomination_accept",
    ),
    path(
        "reviews/<int:pk>/nominations/<int:nomination_pk>/decline/",
        reviews.nomination_decline,
        name="nomination_decline",
    ),
    path("nominations/", reviews.nomination_list, name="nomination_list"),
    path("nominations/new/", reviews.nomination_create, name="nomination_create"),
]
