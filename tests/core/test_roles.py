"""The roles' permissions: each app names its Lead-only ones, core applies the rules."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from core.apps import RolePermissions
from core.roles import LEAD, MEMBER

pytestmark = pytest.mark.django_db

# What a Member may not do, as the roles have always had it.
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
    "experiments.delete_experiment",
    "papers.rebuild_index",
}
MEMBER_MAY_DELETE = {"papers.delete_papernote", "papers.delete_readingstate"}


def _names(group_name):
    permissions = Group.objects.get(name=group_name).permissions.select_related("content_type")
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


def test_members_get_every_app_permission_but_the_lead_only_ones_and_most_deletes():
    app_permissions = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(
            content_type__app_label__in=["radar", "papers", "experiments"]
        ).select_related("content_type")
    }
    deletes = {name for name in app_permissions if name.split(".")[1].startswith("delete_")}
    assert _names(LEAD) == app_permissions
    assert _names(MEMBER) == app_permissions - LEAD_ONLY - (deletes - MEMBER_MAY_DELETE)


def test_the_apps_with_permissions_to_hand_out_are_radar_papers_and_experiments():
    labels = {c.label for c in apps.get_app_configs() if isinstance(c, RolePermissions)}
    assert labels == {"radar", "papers", "experiments"}


def test_every_permission_an_app_names_exists():
    # A misspelt codename would silently leave the permission with Members.
    for config in apps.get_app_configs():
        if isinstance(config, RolePermissions):
            for codename in config.lead_only_permissions | config.member_may_delete:
                assert Permission.objects.filter(
                    content_type__app_label=config.label, codename=codename
                ).exists(), f"{config.label}.{codename}"
