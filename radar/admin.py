from django.contrib import admin

from core.admin import ReadOnlyAdminMixin

from .models import (
    Nomination,
    Quadrant,
    Review,
    ReviewEdit,
    RingMove,
    Tag,
    Technique,
    TechniqueChange,
)


@admin.register(Quadrant)
class QuadrantAdmin(admin.ModelAdmin):
    list_display = ["name", "order"]
    list_editable = ["order"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class RingMoveInline(admin.TabularInline):
    model = RingMove
    fk_name = "technique"
    fields = ["moved_at", "from_ring", "to_ring", "moved_by", "reason", "review"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Technique)
class TechniqueAdmin(admin.ModelAdmin):
    list_display = ["name", "quadrant", "ring", "owner", "next_action_due", "portfolio_bucket"]
    list_filter = ["ring", "quadrant", "portfolio_bucket", "tags"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["tags"]
    # The ring changes only through a recorded move (the technique page or the API), the
    # owner and next action through a move or a recorded change on the review page.
    readonly_fields = [
        "ring",
        "owner",
        "next_action",
        "next_action_due",
        "created_at",
        "updated_at",
    ]
    inlines = [RingMoveInline]

    def has_add_permission(self, request):
        # A technique enters the radar through its first RingMove: nominate and accept it,
        # or import a BYOR file.
        return False


@admin.register(RingMove)
class RingMoveAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Moves are the radar's history: readable here, never added, edited or deleted."""

    list_display = ["technique", "from_ring", "to_ring", "moved_by", "moved_at", "review"]
    list_filter = ["to_ring", "review"]
    search_fields = ["technique__name", "reason"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["held_on", "created_by"]
    filter_horizontal = ["attendees"]

    def get_readonly_fields(self, request, obj=None):
        # Once the review exists, notes and attendees change on its page, where each edit
        # is kept as a ReviewEdit.
        return ["notes", "attendees"] if obj else []


@admin.register(ReviewEdit)
class ReviewEditAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["review", "edited_by", "edited_at"]


@admin.register(TechniqueChange)
class TechniqueChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Owner and next-action changes that were not moves: readable, never edited."""

    list_display = ["technique", "changed_by", "changed_at", "review"]
    search_fields = ["technique__name", "reason"]


@admin.register(Nomination)
class NominationAdmin(admin.ModelAdmin):
    list_display = ["name", "quadrant", "proposed_by", "status", "review"]
    list_filter = ["status"]
    # Decisions go through accept/decline on the review page, which create the technique.
    readonly_fields = ["status", "decided_by", "decided_at", "decision_reason", "technique"]
