"""The three roles and what each may do.

Member: reads everything, writes notes and papers, proposes techniques, reports evidence.
Lead: everything a Member does, plus the decisions (moving radar items, signing gates).
Admin: every permission. Django admin also needs is_staff, which the group does not set.
Permissions are derived from rules so that a model added later gets the right role at once.
Each app names its own exceptions on its AppConfig (RolePermissions): core knows no app.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission

from .apps import RolePermissions

MEMBER = "Member"
LEAD = "Lead"
ADMIN = "Admin"


def _assay_apps():
    return {
        config.label: config
        for config in apps.get_app_configs()
        if isinstance(config, RolePermissions)
    }


def sync_groups():
    """Create the groups and give each the permissions its rules allow. Idempotent."""
    assay_apps = _assay_apps()
    app_permissions = list(
        Permission.objects.filter(content_type__app_label__in=assay_apps).select_related(
            "content_type"
        )
    )
    member, _ = Group.objects.get_or_create(name=MEMBER)
    lead, _ = Group.objects.get_or_create(name=LEAD)
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    member.permissions.set(
        [
            permission
            for permission in app_permissions
            if assay_apps[permission.content_type.app_label].member_may(permission.codename)
        ]
    )
    lead.permissions.set(app_permissions)
    admin.permissions.set(Permission.objects.all())


def sync_groups_after_migrate(sender, **kwargs):
    sync_groups()


def role_of(user):
    """The highest role a user holds, or None."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (ADMIN, LEAD, MEMBER):
        if role in names:
            return role
    return None
