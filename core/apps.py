from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Assay core"

    def ready(self):
        from . import roles

        # Every app's post_migrate, so permissions created by later apps are included.
        post_migrate.connect(roles.sync_groups_after_migrate, dispatch_uid="assay-sync-groups")


class RolePermissions:
    """Mixed into an app's AppConfig: the roles hand out its permissions, a Member all but
    these. Not an AppConfig itself, so that Django still picks each app's config alone."""

    # Codenames (without the app label) that a Member does not get.
    lead_only_permissions = frozenset()
    # Delete permissions stay with Leads except these, where a Member owns the thing.
    member_may_delete = frozenset()

    def member_may(self, codename):
        if codename in self.lead_only_permissions:
            return False
        if codename.startswith("delete_"):
            return codename in self.member_may_delete
        return True
