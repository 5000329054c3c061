from django.contrib import admin

from .models import DeferredTask


@admin.register(DeferredTask)
class DeferredTaskAdmin(admin.ModelAdmin):
    list_display = ("task_name", "args", "queue", "created_at", "attempts")
    readonly_fields = ("created_at",)
