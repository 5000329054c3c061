"""The three roles and what each may do.

Member: reads everything, writes notes and papers, proposes techniques, reports evidence.
Lead: everything a Member does, plus the decisions (moving radar items, signing gates).
Admin: every permission. Django admin also needs is_staff, which the group does not set.
Permissions are derived from rules so that a model added later gets the right role at once.
"""

from django.contrib.auth.models import Group, Permission

MEMBER = "Member"
LEAD = "Lead"
ADMIN = "Admin"

ASSAY_APPS = ("radar", "papers", "experiments")

# Permissions in the Assay apps that a Member does not get ("app_label.codename").
LEAD_ONLY = {
    "radar.add_technique",
    "radar.delete_technique",
    "radar.move_technique",
    "radar.decide_nomination",
    "radar.add_ringmove",
    "radar.change_ringmove",
    "radar.add_quadrant",
    "radar.change_quadrant",
    "radar.delete_quadrant",
    "radar.add_review",
    "radar.change_review",
    "radar.delete_review",
    "experiments.sign_gate",
    "papers.rebuild_index",
    "experiments.delete_experiment",
}
# Delete permissions stay with Leads except where a Member owns the thing (their own notes).
MEMBER_MAY_DELETE = {"papers.delete_papernote", "papers.delete_readingstate"}


def _permission_name(permission):
    return f"{permission.content_type.app_label}.{permission.codename}"


def _member_may(name):
    if name in LEAD_ONLY:
        return False
    codename = name.split(".", 1)[1]
    if codename.startswith("delete_"):
        return name in MEMBER_MAY_DELETE
    return True


def sync_groups():
    """Create the groups and give each the permissions its rules allow. Idempotent."""
    app_permissions = list(
        Permission.objects.filter(content_type__app_label__in=ASSAY_APPS).select_related(
            "content_type"
        )
    )
    member, _ = Group.objects.get_or_create(name=MEMBER)
    lead, _ = Group.objects.get_or_create(name=LEAD)
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    member.permissions.set([p for p in app_permissions if _member_may(_permission_name(p))])
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
