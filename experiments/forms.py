import re

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .enums import ArtifactKind, CriterionCheck
from .models import (
    ActionItem,
    Criterion,
    Decision,
    Experiment,
    Failure,
    PostMortem,
    Prediction,
    Stage,
    StageTimebox,
)
from .models.criteria import DEFINITION_FIELDS
from .models.experiment import RECORDED_FIELDS
from .models.handover import ARTIFACT_PROMPTS, KnowledgeArtifact

KEY_PATTERN = re.compile(r"^EXP-\d+$")


class ExperimentForm(forms.ModelForm):
    """The experiment and the time-box of its current stage."""

    key = forms.CharField(
        required=False, max_length=20, help_text="EXP-<number>; left empty, the next free one."
    )
    stage_starts_on = forms.DateField(
        label="Stage starts", widget=forms.DateInput(attrs={"type": "date"})
    )
    stage_deadline = forms.DateField(
        label="Stage deadline",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="If we haven't achieved it by then, we stop or decide why not.",
    )

    change_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when the hypothesis, a cost-benefit figure or the time-box changes: "
        "kept in the history with the old and new values.",
    )

    class Meta:
        model = Experiment
        fields = [
            "key",
            "title",
            "technique",
            "hypothesis",
            "portfolio_bucket",
            "engineer_weeks",
            "engineer_week_cost",
            "compute_cost",
            "expected_benefit_per_month",
        ]
        widgets = {"hypothesis": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        timebox = self.instance.timebox() if self.instance.pk else None
        starts_on, deadline = (
            (timebox.starts_on, timebox.deadline)
            if timebox
            else StageTimebox.typical(self.instance.stage)
        )
        self.fields["stage_starts_on"].initial = starts_on
        self.fields["stage_deadline"].initial = deadline
        self.fields["hypothesis"].required = True
        if self.instance.pk:
            self.fields["key"].disabled = True

    def clean_key(self):
        key = self.cleaned_data["key"].strip().upper()
        if self.instance.pk:
            return self.instance.key
        self.key_chosen = bool(key)
        if not key:
            return Experiment.objects.next_key()
        if not KEY_PATTERN.match(key):
            raise ValidationError("Write the key as EXP-<number>, e.g. EXP-12.")
        return key

    def clean(self):
        cleaned = super().clean()
        starts_on, deadline = cleaned.get("stage_starts_on"), cleaned.get("stage_deadline")
        if starts_on and deadline and deadline < starts_on:
            self.add_error("stage_deadline", "The deadline must not be before the start.")
        recorded = set(RECORDED_FIELDS) | {"stage_starts_on", "stage_deadline"}
        if self.instance.pk and recorded & set(self.changed_data):
            if not cleaned.get("change_reason", "").strip():
                self.add_error(
                    "change_reason",
                    "Say why the hypothesis, the cost-benefit figures or the time-box change.",
                )
        return cleaned

    # Two people creating experiments at once are handed the same next free key; the unique
    # constraint picks the winner and the other retries with the key after it.
    KEY_ATTEMPTS = 5

    def save_for(self, user):
        """Save the experiment (created by `user` when new) and its stage time-box.

        On an existing experiment, recorded fields go through revise() and set_timebox()
        with the reason, so that the history keeps old -> new. Returns None, with an error on
        the key field, when a key typed by hand was taken by someone else between the form's
        check and the save.
        """
        fields = {name: self.cleaned_data[name] for name in self._meta.fields}
        timebox = {
            "starts_on": self.cleaned_data["stage_starts_on"],
            "deadline": self.cleaned_data["stage_deadline"],
        }
        if self.instance.pk is not None:
            # The ModelForm already wrote the new values on the instance: compare with the
            # stored row.
            experiment = Experiment.objects.get(pk=self.instance.pk)
            reason = self.cleaned_data.get("change_reason", "")
            with transaction.atomic():
                del fields["key"]
                experiment.revise(by=user, reason=reason, **fields)
                experiment.set_timebox(experiment.stage, by=user, reason=reason, **timebox)
            return experiment
        for attempt in range(1, self.KEY_ATTEMPTS + 1):
            try:
                return Experiment.objects.create_recorded(by=user, **timebox, **fields)
            except IntegrityError:
                if not Experiment.objects.filter(key=fields["key"]).exists():
                    raise
                if getattr(self, "key_chosen", False):
                    self.add_error("key", f"{fields['key']} was just taken: choose another key.")
                    return None
                if attempt == self.KEY_ATTEMPTS:
                    raise
                fields["key"] = Experiment.objects.next_key()


# What a person states when writing a criterion: its definition, less the experiment it is on.
CRITERION_FIELDS = [
    name.removesuffix("_id") if name == "reference_run_id" else name
    for name in DEFINITION_FIELDS
    if name != "experiment_id"
]


class CriterionForm(forms.ModelForm):
    class Meta:
        model = Criterion
        fields = CRITERION_FIELDS
        labels = {
            "threshold": "Threshold (percent when relative to the baseline)",
            "abs_tolerance": "Absolute tolerance",
            "rel_tolerance": "Relative tolerance",
            "last_steps": "Only the last N steps",
            "platform": "Runs on platform",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        experiment = self.instance.experiment
        # Left empty (an older client), the criterion is the current stage's.
        self.fields["stage"].choices = Stage.choices
        if not self.is_bound and not self.initial.get("stage"):
            self.initial["stage"] = experiment.stage
        # Left out (a form or script from before reference checks), it is a threshold check.
        self.fields["check_kind"].required = False
        # A reference check names a run of this experiment, or one of its runs' platforms.
        runs = experiment.runs.order_by("-started_at", "-pk")
        self.fields["reference_run"].queryset = runs
        self.fields["reference_run"].label_from_instance = lambda run: (
            f"{run.name} ({run.platform or 'platform not recorded'})"
        )
        # Free text, not a choice: criteria are written before the stage's first run reports.
        known = sorted({run.platform for run in runs if run.platform})
        spelled = "As the runs table spells it: vendor model · precision, e.g. NVIDIA H100 · bf16."
        for name in ("reference_platform", "platform"):
            field = self.fields[name]
            field.help_text = f"{field.help_text} {spelled}" + (
                f" Runs so far: {', '.join(known)}." if known else ""
            )

    def clean_check_kind(self):
        return self.cleaned_data["check_kind"] or CriterionCheck.THRESHOLD


class SupersedeForm(CriterionForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why the criterion changes."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A replacement decides the same gate as the criterion it replaces.
        self.fields["stage"].disabled = True


class CheckForm(forms.Form):
    holds = forms.TypedChoiceField(
        label="Outcome",
        choices=[("yes", "Holds"), ("no", "Does not hold")],
        coerce=lambda value: value == "yes",
    )
    note = forms.CharField(required=False, max_length=300)


class GateDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.HiddenInput)
    stage = forms.CharField(widget=forms.HiddenInput)
    round = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    conditions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="NOT YET: what must hold before asking again.",
    )
    learnings = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="NO: what we learned (kept on the experiment).",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="YES against the evidence: why, recorded as a decision against the evidence.",
    )


class CarryOverForm(forms.Form):
    runs = forms.ModelMultipleChoiceField(
        queryset=None, error_messages={"required": "Choose the runs to carry over."}
    )
    reason = forms.CharField(
        error_messages={"required": "Say why these runs count for this gate too."}
    )

    def __init__(self, *args, experiment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["runs"].queryset = experiment.runs.all()


class ProposalDecisionForm(forms.Form):
    action = forms.ChoiceField(choices=[("confirm", "Confirm"), ("dismiss", "Dismiss")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class PostMortemForm(forms.ModelForm):
    class Meta:
        model = PostMortem
        fields = ["timeline", "root_cause", "lessons"]
        widgets = {name: forms.Textarea(attrs={"rows": 4}) for name in fields}


class FailureForm(forms.ModelForm):
    class Meta:
        model = Failure
        fields = ["category", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class ActionItemForm(forms.ModelForm):
    class Meta:
        model = ActionItem
        fields = ["description", "owner", "due_on"]
        widgets = {"due_on": forms.DateInput(attrs={"type": "date"})}


class PredictionForm(forms.ModelForm):
    probability = forms.FloatField(
        min_value=0, max_value=1, help_text="Your forecast that it comes true, 0 to 1."
    )
    reasoning = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why you expect that."
    )

    def clean_resolve_by(self):
        resolve_by = self.cleaned_data["resolve_by"]
        if resolve_by <= timezone.localdate():
            raise ValidationError(
                "Forecasts are made before the resolve-by date: pick a later one."
            )
        return resolve_by

    class Meta:
        model = Prediction
        fields = ["statement", "resolve_by"]
        widgets = {"resolve_by": forms.DateInput(attrs={"type": "date"})}


class ForecastForm(forms.Form):
    probability = forms.FloatField(min_value=0, max_value=1)
    reasoning = forms.CharField()


class ResolveForm(forms.Form):
    outcome = forms.TypedChoiceField(
        choices=[("true", "It happened"), ("false", "It did not")],
        coerce=lambda value: value == "true",
    )


class KnowledgeArtifactForm(forms.Form):
    """One knowledge-transfer section; the model decides what each kind needs."""

    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    alternatives = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Alternatives considered",
    )
    revisit_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Revisit on"
    )

    def __init__(self, *args, kind, instance=None, **kwargs):
        self.kind = kind
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "body": instance.body,
                    "alternatives": instance.alternatives,
                    "revisit_on": instance.revisit_on,
                },
            )
        super().__init__(*args, prefix=kind.value, **kwargs)
        self.fields["body"].label = kind.label
        self.fields["body"].help_text = ARTIFACT_PROMPTS[kind]
        if kind != ArtifactKind.DESIGN_DECISION:
            del self.fields["alternatives"]
            del self.fields["revisit_on"]

    def write(self, experiment, *, by):
        data = self.cleaned_data
        return KnowledgeArtifact.write(
            experiment,
            self.kind,
            by=by,
            body=data["body"],
            alternatives=data.get("alternatives", ""),
            revisit_on=data.get("revisit_on"),
        )
