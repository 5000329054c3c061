import re

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from core.uploads import check_upload_size
from experiments.models import Experiment, Run
from radar.models import Ring, Technique

from . import dedupe, pdfs
from .embeddings import configured_models, default_model_name
from .identifiers import arxiv_id_from_doi, normalise_arxiv_id, normalise_doi
from .importers import ImportFormatError, decode_file
from .models import (
    Paper,
    PaperNote,
    PaperPdf,
    Passage,
    QuestionLink,
    ReadingState,
    ResearchQuestion,
    Tag,
    TriageItem,
    Watch,
)
from .models.questions import PASSAGE_OF_ANOTHER_PAPER
from .search import MAX_K, MODES


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


def split_authors(text):
    """Author names from one per line or "; "-separated text, each as "Given Family"."""
    names = []
    for name in re.split(r"[\n;]", text or ""):
        name = " ".join(name.split())
        # "Family, Given" (as BibTeX and most reference lists write it) turned round.
        if name.count(",") == 1:
            family, given = (part.strip() for part in name.split(","))
            name = f"{given} {family}".strip()
        if name:
            names.append(name)
    return names


class PaperForm(forms.ModelForm):
    """A paper's metadata typed by hand. Identifiers are normalised, and a paper the library
    already has (papers.dedupe's rules: same arXiv id, same DOI, or the title rule) is refused
    with a link to it."""

    authors = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line or separated by “; ”, as “Given Family” or “Family, Given”.",
    )
    year = forms.IntegerField(required=False, min_value=1000, max_value=2100)
    url = forms.URLField(label="URL", required=False, max_length=1000, assume_scheme="https")
    tags = forms.CharField(required=False, help_text="Separated by commas.")

    class Meta:
        model = Paper
        # Tags are a declared field (names, created where missing), saved by save().
        fields = [
            "title", "authors", "year", "venue", "entry_type", "abstract", "arxiv_id", "doi", "url",
        ]  # fmt: skip
        widgets = {
            "title": forms.TextInput(attrs={"size": 80}),
            "abstract": forms.Textarea(attrs={"rows": 6}),
            "arxiv_id": forms.TextInput(attrs={"placeholder": "2106.09685"}),
            "doi": forms.TextInput(attrs={"placeholder": "10.1145/3097983.3098021"}),
        }
        labels = {"arxiv_id": "arXiv id", "entry_type": "Type"}
        help_texts = {
            "arxiv_id": "An id, arXiv:… or an arxiv.org link; the version is dropped.",
            "doi": "A DOI or a doi.org link.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["authors"] = "\n".join(self.instance.authors)
            self.initial["tags"] = ", ".join(tag.name for tag in self.instance.tags.all())

    def clean_authors(self):
        return split_authors(self.cleaned_data["authors"])

    def clean_tags(self):
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]

    def clean_arxiv_id(self):
        value = self.cleaned_data["arxiv_id"].strip()
        if value and not normalise_arxiv_id(value):
            raise forms.ValidationError(
                f"“{value}” is not an arXiv id (e.g. 2106.09685 or hep-th/9901001)."
            )
        return normalise_arxiv_id(value)

    def clean_doi(self):
        value = self.cleaned_data["doi"].strip()
        if value and not normalise_doi(value):
            raise forms.ValidationError(f"“{value}” is not a DOI (expected 10.NNNN/…).")
        return normalise_doi(value)

    def clean(self):
        cleaned = super().clean()
        if "doi" in cleaned and "arxiv_id" in cleaned:
            self._move_arxiv_doi(cleaned)
        if not self.errors:
            self._refuse_duplicate(cleaned)
        return cleaned

    def _move_arxiv_doi(self, cleaned):
        # arXiv's own DOI names the preprint: it is kept as the arXiv id (as Paper.save does).
        from_doi = arxiv_id_from_doi(cleaned["doi"])
        if not from_doi:
            return
        if cleaned["arxiv_id"] and cleaned["arxiv_id"] != from_doi:
            self.add_error(
                "doi",
                f"This is arXiv's DOI for {from_doi}, but the arXiv id given is "
                f"{cleaned['arxiv_id']}.",
            )
        else:
            cleaned["doi"], cleaned["arxiv_id"] = "", from_doi

    def _refuse_duplicate(self, cleaned):
        candidate = Paper(
            pk=self.instance.pk,
            title=cleaned.get("title", ""),
            authors=cleaned.get("authors", []),
            year=cleaned.get("year"),
            venue=cleaned.get("venue", ""),
            arxiv_id=cleaned.get("arxiv_id", ""),
            doi=cleaned.get("doi", ""),
        )
        candidate.normalise()
        for match in dedupe.find_matches(candidate):
            # An identifier clash is that field's error (which also spares it the model's bare
            # unique-constraint message); the title rule weighs the whole record.
            field = dedupe.matched_by(candidate, match)
            if field is None or field not in self.errors:
                self.add_error(field, _already_there(match, dedupe.MATCH_RULES[field]))

    def save(self, commit=True):
        paper = super().save(commit=commit)
        if commit:
            paper.tags.set(Tag.for_names(self.cleaned_data["tags"]))
        return paper


def _already_there(paper, rule):
    year = f" ({paper.year})" if paper.year else ""
    return format_html(
        'The library already has this paper ({}): <a href="{}">{}</a>{}.',
        rule,
        paper.get_absolute_url(),
        paper.title,
        year,
    )


class PaperLinkForm(forms.Form):
    """A technique and/or an experiment to link to `paper` (or, with `linked`, to unlink).

    Offers only what the user may see: techniques with radar.view_technique, experiments with
    experiments.view_experiment.
    """

    technique = forms.ModelChoiceField(
        Technique.objects.none(), required=False, empty_label="(no technique)"
    )
    experiment = forms.ModelChoiceField(
        Experiment.objects.none(), required=False, empty_label="(no experiment)"
    )

    def __init__(self, *args, paper, user, linked=False, **kwargs):
        super().__init__(*args, **kwargs)
        choices = {
            "technique": ("radar.view_technique", paper.techniques, Technique.objects),
            "experiment": ("experiments.view_experiment", paper.experiments, Experiment.objects),
        }
        for name, (permission, linked_ones, every_one) in choices.items():
            if not user.has_perm(permission):
                del self.fields[name]
            elif linked:
                self.fields[name].queryset = linked_ones.all()
            else:
                self.fields[name].queryset = every_one.exclude(papers=paper)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not any(cleaned.values()):
            raise forms.ValidationError("Choose a technique or an experiment.")
        return cleaned


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


class WhatWouldResolveForm(forms.ModelForm):
    class Meta:
        model = ResearchQuestion
        fields = ["what_would_resolve"]
        widgets = {"what_would_resolve": forms.Textarea(attrs={"rows": 3})}


def _stance_field():
    return forms.ChoiceField(choices=QuestionLink.Stance.choices)


def _rationale_field():
    return forms.CharField(
        label="Why",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Why it supports, contradicts or frames the answer",
    )


class QuestionLinkForm(forms.Form):
    """A paper (or one passage of it) as evidence for a question."""

    paper = forms.CharField(
        label="Paper",
        help_text="Paper number (#12), arXiv id, DOI or the exact title",
        max_length=1000,
    )
    passage = forms.ModelChoiceField(
        Passage.objects.all(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "No passage has that id."},
    )
    stance = _stance_field()
    rationale = _rationale_field()
    quote = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="The words that matter"
    )

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

    def clean(self):
        data = super().clean()
        paper, passage = data.get("paper"), data.get("passage")
        if paper and passage and passage.paper_id != paper.pk:
            self.add_error("passage", PASSAGE_OF_ANOTHER_PAPER)
        return data

    def target(self):
        """The cleaned paper, or its passage when one was chosen."""
        return self.cleaned_data["passage"] or self.cleaned_data["paper"]


class PassageCitationForm(forms.Form):
    """One passage of a paper, cited from the paper page as evidence for a question."""

    question = forms.ModelChoiceField(
        ResearchQuestion.objects.all(),
        empty_label=None,
        error_messages={"invalid_choice": "No research question has that id."},
    )
    stance = _stance_field()
    rationale = _rationale_field()


class WorkEvidenceForm(forms.Form):
    """The team's own work as evidence: one experiment, one run or one radar technique."""

    experiment = forms.ModelChoiceField(
        Experiment.objects.select_related("technique"), required=False
    )
    run = forms.ModelChoiceField(
        Run.objects.all(),
        required=False,
        label="Run id",
        widget=forms.NumberInput(attrs={"min": 1}),
        error_messages={"invalid_choice": "No run has that id."},
        help_text="The number in the run's row on its experiment page",
    )
    technique = forms.ModelChoiceField(Technique.objects.all(), required=False)
    stance = _stance_field()
    rationale = _rationale_field()

    def clean(self):
        data = super().clean()
        chosen = [name for name in ("experiment", "run", "technique") if data.get(name)]
        if len(chosen) != 1 and not any(
            name in self.errors for name in ("experiment", "run", "technique")
        ):
            raise forms.ValidationError("Choose one experiment, one run or one technique.")
        return data

    def target(self):
        data = self.cleaned_data
        return data["experiment"] or data["run"] or data["technique"]


class ImportForm(forms.Form):
    file = forms.FileField()
    dry_run = forms.BooleanField(required=False, label="Dry run (report only, save nothing)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = filesizeformat(settings.ASSAY_MAX_UPLOAD_BYTES)
        self.fields["file"].help_text = (
            f"BibTeX (.bib), CSL-JSON (.json), RIS (.ris) or an arXiv Atom feed (.xml); "
            f"at most {limit}"
        )

    def clean_file(self):
        upload = check_upload_size(self.cleaned_data["file"])
        try:
            return decode_file(upload.read())
        except ImportFormatError as error:
            reason = str(error)
            raise forms.ValidationError(f"{reason[:1].upper()}{reason[1:]}.") from error


class MergeForm(forms.Form):
    keep = forms.ModelChoiceField(Paper.objects.all(), widget=forms.HiddenInput)
    merge = forms.ModelChoiceField(Paper.objects.all(), widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("keep") and cleaned.get("keep") == cleaned.get("merge"):
            raise forms.ValidationError("Choose two different papers to merge.")
        return cleaned


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=1000, label="Search")
    mode = forms.ChoiceField(choices=[(m, m.title()) for m in MODES], initial="hybrid")
    model = forms.ChoiceField(label="Embedding model")
    compare = forms.ChoiceField(label="Compare with", required=False)
    k = forms.IntegerField(min_value=1, max_value=MAX_K, initial=10, label="Results")
    year_from = forms.IntegerField(min_value=1000, max_value=2100, required=False)
    year_to = forms.IntegerField(min_value=1000, max_value=2100, required=False)
    tag = forms.CharField(required=False, max_length=100)
    ring = forms.ChoiceField(required=False, choices=[("", "any ring"), *Ring.choices])
    mine = forms.BooleanField(required=False, label="Has my note")
    min_relevance = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Relevance at least",
        choices=[("", "any"), *((n, str(n)) for n in range(1, 6))],
    )

    def __init__(self, data, **kwargs):
        # Missing fields take their initial value, so /search/?q=x is a complete request.
        data = data.copy()
        for name in ("mode", "k"):
            data.setdefault(name, self.base_fields[name].initial)
        data.setdefault("model", default_model_name())
        super().__init__(data, **kwargs)
        names = [(name, name) for name in configured_models()]
        self.fields["model"].choices = names
        self.fields["compare"].choices = [("", "no comparison"), *names]

    def filters(self, user):
        data = self.cleaned_data
        return {
            "year_from": data["year_from"],
            "year_to": data["year_to"],
            "tag": data["tag"],
            "ring": data["ring"],
            "has_note_by": user if data["mine"] else None,
            "min_relevance": data["min_relevance"],
        }


class NearDuplicatesForm(forms.Form):
    model = forms.ChoiceField(required=False)
    threshold = forms.FloatField(min_value=0.5, max_value=1.0, initial=0.95, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [(name, name) for name in configured_models()]


class WatchForm(forms.ModelForm):
    class Meta:
        model = Watch
        fields = ["name", "kind", "query"]

    def clean_query(self):
        query = " ".join(self.cleaned_data["query"].split())
        if not query:
            raise forms.ValidationError("Say what to watch for.")
        return query


class TriageForm(forms.Form):
    DECISIONS = {
        "skip": TriageItem.Status.SKIPPED,
        "read_later": TriageItem.Status.READ_LATER,
        "read_now": TriageItem.Status.READ_NOW,
    }
    decision = forms.ChoiceField(choices=[(name, name) for name in DECISIONS])

    @property
    def status(self):
        return self.DECISIONS[self.cleaned_data["decision"]]


class PdfUploadForm(forms.Form):
    """A paper's PDF. Checked here only for size and the %PDF- header: the web process never
    parses a PDF; the worker reads it in a child process with limits (papers/pdfs.py)."""

    file = forms.FileField(label="PDF", widget=forms.ClearableFileInput(attrs={"accept": ".pdf"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = filesizeformat(settings.ASSAY_PDF_MAX_BYTES)
        self.fields["file"].help_text = f"At most {limit}."

    def clean_file(self):
        upload = check_upload_size(self.cleaned_data["file"], setting="ASSAY_PDF_MAX_BYTES")
        head = upload.read(pdfs.MAGIC_WINDOW)
        upload.seek(0)
        if not pdfs.looks_like_pdf(head):
            raise forms.ValidationError("This is not a PDF (it has no %PDF- header).")
        return upload


class PdfFetchForm(forms.Form):
    """Where the worker downloads the PDF from: a URL, or the paper's arXiv id when blank."""

    url = forms.URLField(
        label="PDF URL",
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text="Blank: the paper's arXiv PDF.",
    )

    def __init__(self, *args, paper, **kwargs):
        super().__init__(*args, **kwargs)
        self.paper = paper

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("url"):
            cleaned["source"] = PaperPdf.Source.URL
        elif self.paper.arxiv_id:
            cleaned["url"] = settings.ASSAY_ARXIV_PDF_URL.format(arxiv_id=self.paper.arxiv_id)
            cleaned["source"] = PaperPdf.Source.ARXIV
        else:
            raise forms.ValidationError("This paper has no arXiv id: give the PDF's URL.")
        return cleaned
