from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from radar.models import Technique

from .identifiers import normalise_arxiv_id, normalise_doi
from .models import Paper, PaperNote, QuestionLink, ReadingState, ResearchQuestion, Tag


class PaperFilterForm(forms.Form):
    year = forms.IntegerField(required=False, min_value=1000, max_value=2100)
    tag = forms.ModelChoiceField(
        Tag.objects.all(), required=False, to_field_name="name", empty_label="Any tag"
    )
    technique = forms.ModelChoiceField(
        Technique.objects.all(), required=False, empty_label="Any technique"
    )

    def filter(self, papers):
        """`papers` narrowed by the valid filters (invalid ones are ignored and shown as errors)."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("year"):
            papers = papers.in_year(data["year"])
        if data.get("tag"):
            papers = papers.tagged(data["tag"].name)
        if data.get("technique"):
            papers = papers.about_technique(data["technique"].pk)
        return papers


NOTE_FIELDS = [
    "date_read", "relevance", "pass_reached", "time_spent_minutes", "summary", "key_insight",
    "results", "limitations", "production_viability", "implementation",
]  # fmt: skip
FLAG_FIELDS = [
    name
    for field, _label, _help in PaperNote.RED_FLAGS
    for name in (f"flag_{field}", f"flag_{field}_comment")
]
SCORE_FIELDS = [field for field, _label in PaperNote.VIABILITY_SCORES]


class PaperNoteForm(forms.ModelForm):
    class Meta:
        model = PaperNote
        fields = NOTE_FIELDS + FLAG_FIELDS + SCORE_FIELDS
        widgets = {
            "date_read": forms.DateInput(attrs={"type": "date"}),
            "relevance": forms.NumberInput(attrs={"min": 1, "max": 5}),
            "key_insight": forms.Textarea(attrs={"rows": 3}),
            "results": forms.Textarea(attrs={"rows": 3}),
            "limitations": forms.Textarea(attrs={"rows": 3}),
            "implementation": forms.Textarea(attrs={"rows": 3}),
        }
        widgets.update(
            {field: forms.NumberInput(attrs={"min": 1, "max": 5}) for field in SCORE_FIELDS}
        )

    def clean_summary(self):
        summary = " ".join(self.cleaned_data["summary"].split())
        if "\n" in self.cleaned_data["summary"].strip():
            raise forms.ValidationError("One sentence, on one line.")
        return summary

    def clean(self):
        cleaned = super().clean()
        for field, label, _help in PaperNote.RED_FLAGS:
            if cleaned.get(f"flag_{field}_comment") and not cleaned.get(f"flag_{field}"):
                self.add_error(
                    f"flag_{field}",
                    f"You commented on “{label}” without raising it: tick it or clear the comment.",
                )
        return cleaned

    def red_flag_rows(self):
        """(label, what to look for, checkbox, comment) per red flag, for the template."""
        return [
            (label, help_text, self[f"flag_{field}"], self[f"flag_{field}_comment"])
            for field, label, help_text in PaperNote.RED_FLAGS
        ]

    def score_fields(self):
        return [self[name] for name in SCORE_FIELDS]

    def main_fields(self):
        return [self[name] for name in NOTE_FIELDS]


class ReadingStateForm(forms.ModelForm):
    class Meta:
        model = ReadingState
        fields = ["state", "dropped_reason"]
        widgets = {"dropped_reason": forms.TextInput(attrs={"placeholder": "Why dropped?"})}


class ResearchQuestionForm(forms.ModelForm):
    class Meta:
        model = ResearchQuestion
        fields = ["question"]


class ConclusionForm(forms.Form):
    status = forms.ChoiceField(choices=ResearchQuestion.Status.choices)
    conclusion = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)


class QuestionLinkForm(forms.Form):
    paper = forms.CharField(
        label="Paper",
        help_text="Paper number (#12), arXiv id, DOI or the exact title",
        max_length=1000,
    )
    stance = forms.ChoiceField(choices=QuestionLink.Stance.choices)
    passage = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean_paper(self):
        reference = self.cleaned_data["paper"].strip()
        number = reference.lstrip("#")
        papers = Paper.objects.none()
        if number.isdigit():
            papers = Paper.objects.filter(pk=int(number))
        elif arxiv_id := normalise_arxiv_id(reference):
            papers = Paper.objects.filter(arxiv_id=arxiv_id)
        elif doi := normalise_doi(reference):
            papers = Paper.objects.filter(doi=doi)
        else:
            papers = Paper.objects.filter(title__iexact=reference)
        found = list(papers[:2])
        if not found:
            raise forms.ValidationError(f"No paper matches “{reference}”.")
        if len(found) > 1:
            raise forms.ValidationError(
                f"Several papers are titled “{reference}”: give its number or identifier."
            )
        return found[0]


class ImportForm(forms.Form):
    file = forms.FileField(help_text="BibTeX (.bib), CSL-JSON (.json) or an arXiv Atom feed (.xml)")
    dry_run = forms.BooleanField(required=False, label="Dry run (report only, save nothing)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.ASSAY_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(limit)} (ASSAY_MAX_UPLOAD_BYTES)."
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise forms.ValidationError(
                f"The file is not UTF-8 text (byte {error.start} cannot be read)."
            ) from error


class MergeForm(forms.Form):
    keep = forms.ModelChoiceField(Paper.objects.all(), widget=forms.HiddenInput)
    merge = forms.ModelChoiceField(Paper.objects.all(), widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("keep") and cleaned.get("keep") == cleaned.get("merge"):
            raise forms.ValidationError("Choose two different papers to merge.")
        return cleaned
