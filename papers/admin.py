from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from .models import (
    ConclusionRevision,
    Paper,
    PaperNote,
    PaperPdf,
    QuestionLink,
    ReadingState,
    ResearchQuestion,
    Tag,
    TriageItem,
    Watch,
)
from .models.questions import LAST_SUPPORT


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


class EvidenceFormSet(BaseInlineFormSet):
    def clean(self):
        """An answered question keeps at least one supporting piece of evidence."""
        super().clean()
        question = self.instance
        if question.pk is None or question.status != ResearchQuestion.Status.ANSWERED:
            return
        supports = QuestionLink.Stance.SUPPORTS
        kept = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("stance") == supports
        ]
        if not kept:
            raise ValidationError(LAST_SUPPORT)


class QuestionLinkInline(admin.TabularInline):
    model = QuestionLink
    formset = EvidenceFormSet
    raw_id_fields = ["paper", "passage", "experiment", "run", "technique"]
    fields = [*raw_id_fields, "stance", "rationale", "quote", "added_by"]
    readonly_fields = ["added_by"]
    extra = 0


class ConclusionRevisionInline(admin.TabularInline):
    model = ConclusionRevision
    readonly_fields = ["text", "status", "author", "created_at"]
    extra = 0
    can_delete = False


@admin.register(ResearchQuestion)
class ResearchQuestionAdmin(admin.ModelAdmin):
    """The answered rule is the model's clean(): the admin form shows its message by the
    status field. A changed conclusion or status is kept as a revision, as on the page."""

    list_display = ["question", "status", "updated_at"]
    list_filter = ["status"]
    fields = ["question", "status", "conclusion", "what_would_resolve", "created_by"]
    raw_id_fields = ["created_by"]
    inlines = [QuestionLinkInline, ConclusionRevisionInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if {"conclusion", "status"} & set(form.changed_data):
            obj.record_revision(by=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is QuestionLink:
            for evidence in formset.save(commit=False):
                if evidence.added_by_id is None:
                    evidence.added_by = request.user
                evidence.save()
            for evidence in formset.deleted_objects:
                evidence.delete()
            return
        super().save_formset(request, form, formset, change)


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "query", "active", "last_polled_at", "last_error_at"]
    list_filter = ["kind", "active"]
    readonly_fields = ["last_polled_at", "last_error", "last_error_at"]


@admin.register(TriageItem)
class TriageItemAdmin(admin.ModelAdmin):
    list_display = ["title", "watch", "status", "arxiv_id", "found_at", "triaged_by"]
    list_filter = ["status", "watch"]
    search_fields = ["title", "arxiv_id"]
    raw_id_fields = ["paper"]


@admin.register(PaperPdf)
class PaperPdfAdmin(admin.ModelAdmin):
    list_display = ["paper", "state", "page_count", "size", "source", "added_at"]
    list_filter = ["state", "source"]
    search_fields = ["paper__title", "source_url"]
    # State and text come from the worker; the paper page uploads and re-extracts.
    readonly_fields = ["paper", "file", "sha256", "size", "state", "reason", "page_count",
                       "claimed_at", "finished_at"]  # fmt: skip
