from django.contrib import admin

from .models import DeferredTask


@admin.register(DeferredTask)
class DeferredTaskAdmin(admin.ModelAdmin):
    list_display = ("task_name", "args", "queue", "created_at", "attempts")
    readonly_fields = ("created_at",)


class ReadOnlyAdminMixin:
    """Admin for append-only records (ring moves, gate decisions): readable, never edited."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
