from django.urls import path

from .views import radar, transfer

app_name = "radar"
urlpatterns = [
    path("", radar.radar, name="radar"),
    path("panel/", radar.home_panel, name="home_panel"),
    path("import/", transfer.radar_import, name="radar_import"),
    path("export/", transfer.radar_export, name="radar_export"),
    path("techniques/<slug:slug>/", radar.technique_detail, name="technique_detail"),
    path("techniques/<slug:slug>/move/", radar.technique_move, name="technique_move"),
]
