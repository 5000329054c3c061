from .evidence import Artifact, IngestBatch, MetricPoint, MetricSummary, Run
from .experiment import Experiment
from .tokens import ApiToken, TokenFailure

__all__ = [
    "ApiToken",
    "Artifact",
    "Experiment",
    "IngestBatch",
    "MetricPoint",
    "MetricSummary",
    "Run",
    "TokenFailure",
]
