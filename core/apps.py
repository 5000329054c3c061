from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Assay core"

    def ready(self):
        from . import roles

        # Every app's post_migrate, so permissions created by later apps are included.
        post_migrate.connect(roles.sync_groups_after_migrate, dispatch_uid="assay-sync-groups")
