from django.apps import AppConfig

from core.apps import RolePermissions


class ExperimentsConfig(RolePermissions, AppConfig):
    name = "experiments"
    verbose_name = "Experiments"
    lead_only_permissions = frozenset({"sign_gate", "delete_experiment"})
