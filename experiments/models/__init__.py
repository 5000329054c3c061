from .criteria import Criterion, StageFreeze, SupersedeProposal
from .evidence import Artifact, IngestBatch, MetricPoint, MetricSummary, Run, RunCarryOver
from .experiment import Experiment, ExperimentEvent, Stage, StageTimebox, Status
from .gates import Decision, GateDecision, RadarMoveProposal
from .postmortem import ActionItem, Failure, PostMortem
from .predictions import Forecast, Prediction
from .tokens import ApiToken, TokenRefused

__all__ = [
    "ActionItem",
    "ApiToken",
    "Artifact",
    "Criterion",
    "Decision",
    "Experiment",
    "ExperimentEvent",
    "Failure",
    "Forecast",
    "GateDecision",
    "IngestBatch",
    "MetricPoint",
    "MetricSummary",
    "PostMortem",
    "Prediction",
    "RadarMoveProposal",
    "Run",
    "RunCarryOver",
    "Stage",
    "StageFreeze",
    "SupersedeProposal",
    "StageTimebox",
    "Status",
    "TokenRefused",
]
