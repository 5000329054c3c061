from django.apps import AppConfig

from core.apps import RolePermissions


class RadarConfig(RolePermissions, AppConfig):
    name = "radar"
    verbose_name = "Research radar"
    lead_only_permissions = frozenset(
        {
            "add_technique",
            "delete_technique",
            "move_technique",
            "decide_nomination",
            "add_ringmove",
            "change_ringmove",
            "add_quadrant",
            "change_quadrant",
            "delete_quadrant",
            "add_review",
            "change_review",
            "delete_review",
        }
    )
