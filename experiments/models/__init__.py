from .criteria import Criterion, StageFreeze, SupersedeProposal
from .deep_dives import DeepDive
from .evidence import Artifact, IngestBatch, MetricPoint, MetricSummary, Run, RunCarryOver
from .experiment import Experiment, ExperimentEvent, Stage, StageTimebox, Status
from .gates import Decision, GateDecision, RadarMoveProposal
from .handover import KnowledgeArtifact
from .postmortem import ActionItem, Failure, PostMortem
from .predictions import Forecast, Prediction
from .tokens import ApiToken, TokenRefused

__all__ = [
    "ActionItem",
    "ApiToken",
    "Artifact",
    "Criterion",
    "DeepDive",
    "Decision",
    "Experiment",
    "ExperimentEvent",
    "Failure",
    "Forecast",
    "GateDecision",
    "IngestBatch",
    "KnowledgeArtifact",
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
