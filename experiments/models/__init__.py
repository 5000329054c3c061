from .evidence import MetricPoint, Run
from .experiment import Experiment

__all__ = ["Experiment", "MetricPoint", "Run"]
