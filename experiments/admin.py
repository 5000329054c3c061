from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from core.admin import ReadOnlyAdminMixin

from .models import (
    ActionItem,
    ApiToken,
    Artifact,
    Criterion,
    DeepDive,
    Experiment,
    ExperimentEvent,
    Failure,
    Forecast,
    GateDecision,
    KnowledgeArtifact,
    PostMortem,
    Prediction,
    Run,
    StageFreeze,
    StageTimebox,
    SupersedeProposal,
)
from .models.experiment import RECORDED_COST_FIELDS

# --- experiments, criteria, gates ---


class TimeboxInline(admin.TabularInline):
    model = StageTimebox
    extra = 0

    # A deadline changes on the experiment's edit page, with a reason kept in the history.
    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "technique", "stage", "status", "owner", "flagged_since"]
    list_filter = ["stage", "status", "portfolio_bucket"]
    search_fields = ["key", "title", "hypothesis"]
    # Flags come from evaluate(); stage and status change through gate decisions.
    readonly_fields = ["flags", "flagged_since", "evaluated_at", "stage", "status"]
    # Changed only on the edit page, where a reason is required and old -> new is recorded.
    RECORDED_FIELDS = ["hypothesis", *RECORDED_COST_FIELDS]
    inlines = [TimeboxInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, *self.RECORDED_FIELDS]

    # Deleting an experiment with runs, decisions or history archives it: the record stays.
    def get_deleted_objects(self, objs, request):
        kept = [obj for obj in objs if obj.has_record()]
        if not kept:
            return super().get_deleted_objects(objs, request)
        deleted, counts, perms_needed, protected = super().get_deleted_objects(
            [obj for obj in objs if obj not in kept], request
        )
        archived = [
            f"{obj} — archived, not deleted: it has runs, decisions or history" for obj in kept
        ]
        return (
            [*archived, *deleted],
            {**counts, "archived experiments": len(kept)},
            perms_needed,
            protected,
        )

    def delete_model(self, request, obj):
        if obj.has_record():
            obj.archive(by=request.user)
            self.message_user(
                request, f"{obj} has a record: archived, not deleted.", messages.WARNING
            )
        else:
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ["statement", "experiment", "kind", "severity", "result", "superseded_by"]
    list_filter = ["kind", "severity", "result"]
    search_fields = ["statement", "metric", "experiment__key"]
    readonly_fields = ["result", "observed", "result_detail", "evaluated_at", "superseded_by"]

    # A criterion is frozen once its stage's first run reported: show it read-only rather than let
    # the model refuse the save with an error page. Changes go through "supersede".
    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return [field.name for field in obj._meta.fields]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(GateDecision)
class GateDecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Decisions are immutable records: readable here, made on the experiment page.
    list_display = [
        "experiment", "stage", "round", "decision", "override_reason", "decided_by", "decided_at"
    ]  # fmt: skip
    list_filter = ["stage", "decision"]


@admin.register(ExperimentEvent)
class ExperimentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The history is append-only: readable here, written by the models.
    list_display = ["experiment", "kind", "message", "actor", "created_at"]
    list_filter = ["kind"]


class FailureInline(admin.TabularInline):
    model = Failure
    extra = 0


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    list_display = ["experiment", "author", "created_at"]
    inlines = [FailureInline, ActionItemInline]


class ForecastInline(ReadOnlyAdminMixin, admin.TabularInline):
    # Forecasts are append-only: made and revised on the predictions page.
    model = Forecast
    extra = 0
    fields = ["forecaster", "probability", "reasoning", "revises", "created_at"]


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Outcomes are recorded by Prediction.resolve (someone other than the author, or a Lead).
    list_display = ["statement", "experiment", "resolve_by", "outcome"]
    list_filter = ["outcome"]
    inlines = [ForecastInline]


@admin.register(SupersedeProposal)
class SupersedeProposalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["criterion", "reason", "proposed_by", "status", "decided_by"]
    list_filter = ["status"]


@admin.register(StageFreeze)
class StageFreezeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["experiment", "stage", "frozen_at"]


# --- evidence and tokens ---


class ArtifactInline(ReadOnlyAdminMixin, admin.TabularInline):
    # Artifacts are registered by the job; once there they are part of the run's evidence.
    model = Artifact
    extra = 0
    fields = readonly_fields = ["uri", "kind", "size", "sha256", "created_at"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # A run is evidence a gate is decided on: the API refuses writes to a finished run (409),
    # so the admin may not rewrite or delete it either. The one correction, closing a run whose
    # job died, is the "mark failed" action: Lead-only and kept in the experiment's history.
    list_display = ["name", "experiment", "variant", "seed", "platform", "status", "started_at"]
    list_filter = ["status", "variant", "accelerator_vendor", "precision"]
    search_fields = ["name", "experiment__key", "host", "git_commit", "accelerator_model"]
    inlines = [ArtifactInline]
    actions = ["mark_failed"]

    def has_mark_failed_permission(self, request):
        return request.user.has_perm("experiments.sign_gate")

    @admin.action(
        description="Mark selected running runs failed (their job died)",
        permissions=["mark_failed"],
    )
    def mark_failed(self, request, queryset):
        reason = f"closed in the admin by {request.user.get_username()}: its job stopped reporting"
        marked, skipped = [], []
        for run in queryset.select_related("experiment"):
            try:
                run.mark_failed(by=request.user, reason=reason)
                marked.append(run.name)
            except (ValidationError, PermissionDenied) as error:
                skipped.append(f"{run.name}: {' '.join(getattr(error, 'messages', [str(error)]))}")
        if marked:
            self.message_user(request, f"Marked failed: {', '.join(marked)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Left as they were: {'; '.join(skipped)}", messages.WARNING)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    # Tokens are issued on the experiment's token page, where the key is shown once.
    list_display = ["prefix", "experiment", "name", "read_only", "last_used_at", "revoked_at"]
    list_filter = ["read_only"]
    search_fields = ["prefix", "name", "experiment__key"]
    readonly_fields = ["prefix", "key_hash", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


# --- review deep dives and knowledge transfer (written on their pages, read here) ---


@admin.register(DeepDive)
class DeepDiveAdmin(admin.ModelAdmin):
    list_display = ["review", "presenter", "technique", "experiment", "decided_at"]


@admin.register(KnowledgeArtifact)
class KnowledgeArtifactAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Written on the experiment page, where each write is in the history."""

    list_display = ["experiment", "kind", "written_by", "updated_at"]
