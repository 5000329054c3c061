"""The monthly review's forms: decisions taken in the meeting, nominations, minutes, deep dives."""

from django import forms

from experiments.models import DeepDive
from radar.forms import LinksField, MoveForm, people_with_a_role
from radar.models import Nomination, PortfolioBucket, Review, Ring, Technique


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
        self.fields["owner"].queryset = people_with_a_role()


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
        self.fields["attendees"].queryset = people_with_a_role()


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
        self.fields["owner"].queryset = people_with_a_role()

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
        self.fields["attendees"].queryset = people_with_a_role()
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
        self.fields["presenter"].queryset = people_with_a_role()
        self.fields["technique"].required = False
        self.fields["experiment"].required = False


class DeepDiveDecisionForm(forms.Form):
    recommendation = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    decision = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
