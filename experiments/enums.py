"""The experiments app's choices and the facts tied to them, apart from the models that use
them, so that every models module imports them from here and none from another."""

from django.db import models

# --- experiments and their stages ---


class Stage(models.TextChoices):
    DISCOVERY = "discovery", "Discovery"
    VALIDATION = "validation", "Validation"
    INTEGRATION = "integration", "Integration"


# The question each stage's gate answers, and the usual length of the stage (in days).
GATE_QUESTIONS = {
    Stage.DISCOVERY: "Should we invest more time in this?",
    Stage.VALIDATION: "Should we build this for production?",
    Stage.INTEGRATION: "Should we keep this in production?",
}
TYPICAL_STAGE_DAYS = {Stage.DISCOVERY: 14, Stage.VALIDATION: 28, Stage.INTEGRATION: 56}
NEXT_STAGE = {Stage.DISCOVERY: Stage.VALIDATION, Stage.VALIDATION: Stage.INTEGRATION}


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PASSED = "passed", "Passed"
    KILLED = "killed", "Killed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    SHIPPED = "shipped", "Shipped"
    # What deleting an experiment with a record does instead: kept, hidden from lists.
    ARCHIVED = "archived", "Archived"


CLOSED_STATUSES = (Status.KILLED, Status.ROLLED_BACK)
# The bet won: its runs were not killed, whatever a time-box or an overridden criterion says.
WON_STATUSES = (Status.PASSED, Status.SHIPPED)


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    STATUS = "status", "Status change"
    STAGE = "stage", "Stage change"
    GATE = "gate", "Gate decision"
    CRITERION = "criterion", "Criterion change"
    FLAG = "flag", "Flag"
    RADAR = "radar", "Radar move"
    POSTMORTEM = "postmortem", "Post-mortem"
    PREDICTION = "prediction", "Prediction"


class AttentionKind(models.TextChoices):
    """Why an experiment needs attention (Experiment.attention_reasons)."""

    HARD_KILL = "hard_kill", "Hard kill criterion tripped"
    TIMEBOX_OVER = "timebox_over", "Time-box over"
    NOT_ACTIVE = "not_active", "Not active"


# --- criteria ---


class CriterionKind(models.TextChoices):
    SUCCESS = "success", "Success"
    KILL = "kill", "Kill"


class CriterionCheck(models.TextChoices):
    """What a machine-checked criterion compares; its kind says what a gate does with it.

    A reference check "holds" as a success criterion when the runs match the reference
    within tolerance at every step checked, and as a kill criterion when they do not
    (diverged): a gate can require a match, or stop the job on a divergence.
    """

    THRESHOLD = "threshold", "Aggregate against a threshold"
    MATCHES_REFERENCE = "matches_reference", "Matches reference within tolerance"


class Severity(models.TextChoices):
    HARD = "hard", "Hard (stop at once)"
    SOFT = "soft", "Soft (discuss)"


class Aggregation(models.TextChoices):
    MEAN = "mean", "mean"
    MEDIAN = "median", "median"
    P5 = "p5", "worst-case 5th percentile"
    P99 = "p99", "P99"
    MAX = "max", "max"
    LAST = "last", "last value"


class Comparator(models.TextChoices):
    LT = "lt", "<"
    LE = "le", "≤"
    GT = "gt", ">"
    GE = "ge", "≥"


class Result(models.TextChoices):
    PENDING = "pending", "Pending"
    HOLDS = "holds", "Holds"
    DOES_NOT_HOLD = "does_not_hold", "Does not hold"
    INSUFFICIENT = "insufficient", "Not enough evidence"


class SupersedeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DISMISSED = "dismissed", "Dismissed"


# --- gates ---


class Decision(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    NOT_YET = "not_yet", "Not yet"


class RadarMoveStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    DISMISSED = "dismissed", "Dismissed"


# --- runs ---


class RunStatus(models.TextChoices):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"


# --- the platform a run trained on (hardware and precision drift) ---


class AcceleratorVendor(models.TextChoices):
    NVIDIA = "nvidia", "NVIDIA"
    AMD = "amd", "AMD"
    INTEL = "intel", "Intel"
    GOOGLE = "google", "Google"
    APPLE = "apple", "Apple"
    CPU = "cpu", "CPU only"
    OTHER = "other", "Other"


class Runtime(models.TextChoices):
    """The accelerator's compute stack; its version is the run's runtime_version."""

    CUDA = "cuda", "CUDA"
    ROCM = "rocm", "ROCm"
    XPU = "xpu", "oneAPI / XPU"
    MPS = "mps", "Metal (MPS)"
    XLA = "xla", "XLA"
    CPU = "cpu", "CPU"


class Precision(models.TextChoices):
    """The dtype the run computed in (weights and activations): what drift is blamed on."""

    FP64 = "fp64", "fp64"
    FP32 = "fp32", "fp32"
    TF32 = "tf32", "tf32"
    BF16 = "bf16", "bf16"
    FP16 = "fp16", "fp16"
    FP8 = "fp8", "fp8"
    INT8 = "int8", "int8"
    INT4 = "int4", "int4"


# --- post-mortems and knowledge transfer ---


class FailureCategory(models.TextChoices):
    PAPER = "paper", "Paper evaluation"
    PROTOTYPE = "prototype", "Prototype"
    INTEGRATION = "integration", "Integration"
    PROCESS = "process", "Process"


class ArtifactKind(models.TextChoices):
    IMPLEMENTATION = "implementation", "Implementation notes"
    DESIGN_DECISION = "design_decision", "Design decision record"
    RUNBOOK = "runbook", "Runbook"
