from django import forms
from django.contrib.auth import get_user_model

from core.forms import add_model_errors  # noqa: F401  (radar/views/reviews.py imports it from here)
from core.uploads import check_upload_size
from experiments.models import DeepDive

from .models import Nomination, PortfolioBucket, Quadrant, Review, Ring, Tag, Technique


class LinksField(forms.CharField):
    """One http(s) link per line; the model validates each."""

    widget = forms.Textarea(attrs={"rows": 2, "placeholder": "https://arxiv.org/abs/…"})

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


def _people():
    return get_user_model().objects.filter(is_active=True, groups__isnull=False).distinct()


class RadarFilterForm(forms.Form):
    """The radar page's filters; every field optional, bad values reported, not fatal."""

    owner = forms.ModelChoiceField(queryset=None, required=False, to_field_name="username")
    quadrant = forms.ModelChoiceField(queryset=Quadrant.objects.all(), required=False)
    ring = forms.ChoiceField(choices=[("", "any ring"), *Ring.choices], required=False)
    tag = forms.ModelChoiceField(queryset=Tag.objects.all(), required=False, to_field_name="name")
    stale = forms.BooleanField(required=False)
    as_of = forms.ModelChoiceField(
        queryset=Review.objects.all(), required=False, empty_label="today", label="As of review"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(owned_techniques__isnull=False).distinct()
        )
        self.fields["owner"].empty_label = "anyone"
        self.fields["quadrant"].empty_label = "any quadrant"
        self.fields["tag"].empty_label = "any tag"

    def value(self, name):
        """A cleaned value, or None for a missing or invalid one."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None


class MoveForm(forms.Form):
    """The fields of `Technique.move_to`; the model decides which are needed."""

    to_ring = forms.ChoiceField(choices=Ring.choices, label="Move to")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    superseded_by = forms.ModelChoiceField(
        queryset=Technique.objects.all(), required=False, label="Superseded by (HOLD/SKIP)"
    )
    failed_constraint = forms.CharField(
        max_length=300, required=False, label="Constraint it fails (HOLD/SKIP)"
    )
    evidence_links = LinksField(required=False)
    owner = forms.ModelChoiceField(queryset=None, required=False)
    next_action = forms.CharField(max_length=300, required=False)
    next_action_due = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, technique=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()
        if technique is not None:
            self.fields["superseded_by"].queryset = Technique.objects.exclude(pk=technique.pk)
            self.fields["to_ring"].choices = [c for c in Ring.choices if c[0] != technique.ring]
            self.initial.setdefault("owner", technique.owner_id)
            self.initial.setdefault("next_action", technique.next_action)
            self.initial.setdefault("next_action_due", technique.next_action_due)

    def move(self, technique, *, by, review=None):
        """Move `technique` with the form's data; raises ValidationError keyed by field."""
        data = self.cleaned_data
        return technique.move_to(
            data["to_ring"],
            by=by,
            reason=data["reason"],
            review=review,
            superseded_by=data["superseded_by"],
            failed_constraint=data["failed_constraint"],
            evidence_links=data["evidence_links"],
            owner=data["owner"],
            next_action=data["next_action"],
            next_action_due=data["next_action_due"],
        )


class ReviewMoveForm(MoveForm):
    """A move decided during a review: the technique is picked in the form."""

    technique = forms.ModelChoiceField(queryset=Technique.objects.all())
    field_order = ["technique", "to_ring"]


class NominationForm(forms.ModelForm):
    links = LinksField(required=False)

    class Meta:
        model = Nomination
        fields = ["name", "quadrant", "reason", "links"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3})}


class AcceptForm(forms.Form):
    ring = forms.ChoiceField(choices=Ring.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    owner = forms.ModelChoiceField(queryset=None, required=False)
    next_action = forms.CharField(max_length=300, required=False)
    next_action_due = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    portfolio_bucket = forms.ChoiceField(choices=PortfolioBucket.choices)
    failed_constraint = forms.CharField(
        max_length=300, required=False, label="Constraint it fails (HOLD/SKIP)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()


class DeclineForm(forms.Form):
    decision_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Why not"
    )


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["held_on", "attendees", "notes"]
        widgets = {
            "held_on": forms.DateInput(attrs={"type": "date"}),
            "attendees": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = _people()


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A BYOR CSV or JSON file.")
    dry_run = forms.BooleanField(required=False, label="Dry run: report only, write nothing")

    def clean_file(self):
        upload = check_upload_size(self.cleaned_data["file"])
        return upload


class ReassignForm(forms.Form):
    """A technique's owner and next action changed in a review, without a ring move. The
    form does not know the technique before it is posted, so a field left empty keeps what
    the technique has."""

    technique = forms.ModelChoiceField(queryset=Technique.objects.all())
    owner = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="(keep)", help_text="Empty: unchanged."
    )
    next_action = forms.CharField(max_length=300, required=False, help_text="Empty: unchanged.")
    next_action_due = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: unchanged.",
    )
    reason = forms.CharField(max_length=300, required=False, label="Why (optional)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()

    def reassign(self, *, by, review):
        """technique.reassign with the fields given, the others as they are."""
        data = self.cleaned_data
        technique = data["technique"]
        return technique.reassign(
            by=by,
            owner=data["owner"] or technique.owner,
            next_action=data["next_action"].strip() or technique.next_action,
            next_action_due=data["next_action_due"] or technique.next_action_due,
            review=review,
            reason=data["reason"],
        )


class MinutesForm(forms.Form):
    """The review's notes and attendees, editable after the meeting."""

    attendees = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)

    def __init__(self, *args, review=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = _people()
        if review is not None:
            self.initial.setdefault("attendees", list(review.attendees.all()))
            self.initial.setdefault("notes", review.notes)


class DeepDiveForm(forms.ModelForm):
    """A deep-dive slot: who presents which technique or experiment, and what they propose."""

    class Meta:
        model = DeepDive
        fields = ["presenter", "technique", "experiment", "recommendation"]
        widgets = {"recommendation": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["presenter"].queryset = _people()
        self.fields["technique"].required = False
        self.fields["experiment"].required = False


class DeepDiveDecisionForm(forms.Form):
    recommendation = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    decision = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
