from django import forms
from django.contrib.auth import get_user_model

from core.uploads import check_upload_size

from .models import Quadrant, Review, Ring, Tag, Technique


class LinksField(forms.CharField):
    """One http(s) link per line; the model validates each."""

    widget = forms.Textarea(attrs={"rows": 2, "placeholder": "https://arxiv.org/abs/…"})

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


def people_with_a_role():
    """Active users in a role group: who may own, present or attend."""
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
        self.fields["owner"].queryset = people_with_a_role()
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


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A BYOR CSV or JSON file.")
    dry_run = forms.BooleanField(required=False, label="Dry run: report only, write nothing")

    def clean_file(self):
        upload = check_upload_size(self.cleaned_data["file"])
        return upload
