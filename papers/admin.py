from django.contrib import admin

from .models import (
    ConclusionRevision,
    Paper,
    PaperNote,
    PaperPdf,
    QuestionLink,
    ReadingState,
    ResearchQuestion,
    Tag,
)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "venue", "arxiv_id", "doi", "updated_at"]
    list_filter = ["entry_type", "year", "tags"]
    search_fields = ["title", "arxiv_id", "doi", "bibtex_key"]
    filter_horizontal = ["tags", "techniques", "experiments"]


@admin.register(PaperNote)
class PaperNoteAdmin(admin.ModelAdmin):
    list_display = ["paper", "author", "relevance", "pass_reached", "production_viability"]
    list_filter = ["relevance", "pass_reached", "production_viability"]
    search_fields = ["paper__title", "summary"]
    raw_id_fields = ["paper"]


@admin.register(ReadingState)
class ReadingStateAdmin(admin.ModelAdmin):
    list_display = ["paper", "user", "state", "updated_at"]
    list_filter = ["state"]
    raw_id_fields = ["paper"]


class QuestionLinkInline(admin.TabularInline):
    model = QuestionLink
    raw_id_fields = ["paper"]
    extra = 0


class ConclusionRevisionInline(admin.TabularInline):
    model = ConclusionRevision
    readonly_fields = ["text", "status", "author", "created_at"]
    extra = 0
    can_delete = False


@admin.register(ResearchQuestion)
class ResearchQuestionAdmin(admin.ModelAdmin):
    list_display = ["question", "status", "updated_at"]
    list_filter = ["status"]
    inlines = [QuestionLinkInline, ConclusionRevisionInline]


@admin.register(PaperPdf)
class PaperPdfAdmin(admin.ModelAdmin):
    list_display = ["paper", "state", "page_count", "size", "source", "added_at"]
    list_filter = ["state", "source"]
    search_fields = ["paper__title", "source_url"]
    # State and text come from the worker; the paper page uploads and re-extracts.
    readonly_fields = ["paper", "file", "sha256", "size", "state", "reason", "page_count",
                       "claimed_at", "finished_at"]  # fmt: skip
