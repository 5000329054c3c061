from ..enums import Decision, Stage, Status
from .chunks import SeriesChunk
from .criteria import Criterion, StageFreeze, SupersedeProposal
from .curves import CurveTile
from .deep_dives import DeepDive
from .evidence import Artifact, IngestBatch, MetricPoint, MetricSummary, Run, RunCarryOver
from .experiment import AttentionReason, Experiment
from .gates import GateDecision, RadarMoveProposal
from .handover import KnowledgeArtifact
from .history import ExperimentEvent
from .postmortem import ActionItem, Failure, PostMortem
from .predictions import Forecast, Prediction
from .timeboxes import StageTimebox
from .tokens import ApiToken, TokenRefused

__all__ = [
    "ActionItem",
    "ApiToken",
    "Artifact",
    "AttentionReason",
    "Criterion",
    "CurveTile",
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
    "SeriesChunk",
    "SupersedeProposal",
    "StageTimebox",
    "Status",
    "TokenRefused",
]
