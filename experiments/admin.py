from django.contrib import admin

from .models import ApiToken, Artifact, Run

# --- evidence and tokens ---


class ArtifactInline(admin.TabularInline):
    model = Artifact
    extra = 0
    readonly_fields = ["uri", "kind", "size", "sha256", "created_at"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["name", "experiment", "variant", "seed", "status", "started_at"]
    list_filter = ["status", "variant"]
    search_fields = ["name", "experiment__key", "host", "git_commit"]
    readonly_fields = ["client_key", "started_at", "finished_at"]
    inlines = [ArtifactInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    # Tokens are issued on the experiment's token page, where the key is shown once.
    list_display = ["prefix", "experiment", "name", "read_only", "last_used_at", "revoked_at"]
    list_filter = ["read_only"]
    search_fields = ["prefix", "name", "experiment__key"]
    readonly_fields = ["prefix", "key_hash", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False
