from .criteria import Criterion
from .evidence import Artifact, IngestBatch, MetricPoint, MetricSummary, Run
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
    "Stage",
    "StageTimebox",
    "Status",
    "TokenRefused",
]
