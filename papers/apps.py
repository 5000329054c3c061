from django.apps import AppConfig

from core.apps import RolePermissions


class PapersConfig(RolePermissions, AppConfig):
    name = "papers"
    verbose_name = "Papers"
    lead_only_permissions = frozenset({"rebuild_index"})
    member_may_delete = frozenset({"delete_papernote", "delete_readingstate"})

    def ready(self):
        from . import signals

        signals.connect()
