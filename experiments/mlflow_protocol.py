"""MLflow's wire format for the /mlflow API: its error shape and codes, reading request
fields with its rules and limits, and runs and experiments in the JSON its client parses.

Numbers follow protobuf's JSON mapping, as MLflow's client does: int64 fields may come as
strings, and doubles may be the strings "NaN", "Infinity" and "-Infinity" (what the client
sends for non-finite values, and what Assay answers with, JSON having no NaN).
"""

import base64
import binascii
import json
import math
import posixpath
import re
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from core import json_body

# MLflow's limits (mlflow/utils/validation.py), so a batch MLflow's server takes is taken.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
# Assay's own, stricter: a metric name is a MetricPoint.key, 100 characters.
MAX_METRIC_KEY_LENGTH = 100
MAX_STEP = 2**63

# The HTTP status MLflow's server answers each error code with (mlflow/exceptions.py), for
# the codes Assay uses. None of them is a 5xx: MLflow's client retries those.
ERROR_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_LIMIT_EXCEEDED": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "NOT_IMPLEMENTED": 501,
}

# MLflow's RunStatus names against Assay's run statuses.
ASSAY_STATUS = {
    "RUNNING": "running",
    "SCHEDULED": "running",
    "FINISHED": "finished",
    "FAILED": "failed",
    "KILLED": "killed",
}
MLFLOW_STATUS = {"running": "RUNNING", "finished": "FINISHED", "failed": "FAILED",
                 "killed": "KILLED"}  # fmt: skip
# Protobuf's JSON mapping also allows an enum by number.
STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Valid names (MLflow's, on POSIX): slashes, alphanumerics, underscores, periods, dashes,
# colons and spaces.
NAME = re.compile(r"^[/\w.\- :]*$")


class MlflowError(Exception):
    """An error answered in MLflow's shape: {"error_code": ..., "message": ...}."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self):
        return JsonResponse(
            {"error_code": self.code, "message": self.message}, status=ERROR_STATUS[self.code]
        )


def invalid(message):
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def invalid_value(path, value, reason=""):
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    text = f"Invalid value {shown} for parameter '{path}' supplied"
    return invalid(f"{text}: {reason}" if reason else f"{text}.")


def missing(path):
    return invalid(f"Missing value for required parameter '{path}'.")


def read_body(request):
    """The request's fields: the query string of a GET, else the JSON object of its body."""
    if request.method == "GET":
        body = {key: values if len(values) > 1 else values[0]
                for key, values in request.GET.lists()}  # fmt: skip
    else:
        try:
            raw = request.body
        except RequestDataTooBig:
            raise invalid(
                f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
            ) from None
        if not raw.strip():
            return {}
        try:
            body = json_body.loads(raw)
        except (ValueError, RecursionError) as error:
            raise invalid(f"Malformed JSON request body: {error}") from None
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object ({...}).")
        # JSON carries NUL only as this escape: most bodies skip the walk.
        if b"\\u0000" not in raw:
            return body
    # PostgreSQL stores no NUL character in text; refusing it here beats a 500 at insert.
    if _has_nul(body):
        raise invalid("NUL characters (\\u0000) are not allowed.")
    return body


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def string(body, name, *, required=False, aliases=()):
    """A string field ("" when absent); `aliases` are older names of it (run_uuid)."""
    for key in (name, *aliases):
        value = body.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise invalid_value(key, value, "must be a string.")
            return value
    if required:
        raise missing(name)
    return ""


def integer(body, name, *, default=None, low=None, high=None):
    """An int64 field, as a JSON number or a string of digits; `default` when absent."""
    value = body.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_value(name, value, "must be an integer.")
    if low is not None and value < low:
        raise invalid_value(name, value, f"must be at least {low}.")
    if high is not None and value >= high:
        raise invalid_value(name, value, f"must be below {high}.")
    return value


def number(value, path):
    """A double: a JSON number, or "NaN", "Infinity", "-Infinity" (or a number as text)."""
    if isinstance(value, str):
        if value in NON_FINITE:
            return NON_FINITE[value]
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer literal of hundreds of digits
            pass
    if value is None:
        raise missing(path)
    raise invalid_value(path, value, "Please specify value as a valid double (64-bit float)")


def name(value, path, *, limit):
    """A metric, param or tag key, checked as MLflow checks it, and against `limit`."""
    if value in (None, ""):
        raise missing(path)
    if not isinstance(value, str):
        raise invalid_value(path, value, "must be a string.")
    if not NAME.match(value):
        raise invalid_value(
            path, value, "Names may only contain alphanumerics, underscores (_), dashes (-), "
            "periods (.), spaces ( ), colon(:) and slashes (/).",
        )  # fmt: skip
    normal = posixpath.normpath(value)
    if normal != value or normal == "." or normal.startswith(("..", "/")):
        raise invalid_value(
            path, value, "Names may be treated as files in certain cases, and must not "
            f"resolve to other names when treated as such. This name would resolve to {normal!r}",
        )  # fmt: skip
    if len(value) > limit:
        raise invalid(f"'{path}' exceeds the maximum length of {limit} characters")
    return value


def entries(body, field):
    """A repeated field (metrics, params, tags): a list of objects."""
    value = body.get(field)
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_value(field, value, "must be a list of objects.")
    return value


def key_values(items, field, *, value_limit):
    """[(key, value)] of params or tags, each key and value checked."""
    pairs = []
    for index, item in enumerate(items):
        key = name(item.get("key"), f"{field}[{index}].key", limit=MAX_ENTITY_KEY_LENGTH)
        value = item.get("value")
        value = "" if value is None else value
        if not isinstance(value, str):
            raise invalid_value(f"{field}[{index}].value", value, "must be a string.")
        if len(value) > value_limit:
            raise invalid(
                f"'{field}[{index}].value' exceeds the maximum length of {value_limit} characters"
            )
        pairs.append((key, value))
    return pairs


def metric_points(items, field="metrics"):
    """Assay's point dicts (key, value, step, wall_time) for MLflow metrics.

    The hot path of log-batch: a thousand metrics of a few names, so each name is checked once
    and plain numbers skip the general readers.
    """
    points, names = [], set()
    for index, item in enumerate(items):
        key, value = item.get("key"), item.get("value")
        if not (isinstance(key, str) and key in names):
            names.add(name(key, f"{field}[{index}].key", limit=MAX_METRIC_KEY_LENGTH))
        if type(value) is not float:
            value = number(value, f"{field}[{index}].value")
        timestamp, step = item.get("timestamp"), item.get("step", 0)
        if type(timestamp) is not int or not -(2**63) <= timestamp < 2**63:
            timestamp = integer(item, "timestamp", low=-(2**63), high=2**63)
            if timestamp is None:
                raise missing(f"{field}[{index}].timestamp")
        if type(step) is not int or not 0 <= step < MAX_STEP:
            step = integer(item, "step", default=0, low=0, high=MAX_STEP)
        points.append({"key": key, "value": value, "step": step, "wall_time": timestamp / 1000})
    return points


def check_batch_limits(metrics, params, tags):
    for entity, limit, count in (
        ("metrics", min(MAX_METRICS_PER_BATCH, settings.ASSAY_API_MAX_BATCH_POINTS), len(metrics)),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, len(params)),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags)),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH,
         len(metrics) + len(params) + len(tags)),
    ):  # fmt: skip
        if count > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {entity}. Got {count} "
                f"{entity}. Please split up {entity} across multiple requests and try again."
            )
    keys = [item.get("key") for item in params]
    duplicates = sorted({key for key in keys if keys.count(key) > 1}, key=str)
    if duplicates:
        raise invalid(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the "
            "request contains only one param value per param key."
        )


def run_status(value):
    """Assay's status for an MLflow RunStatus (its name, or its number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = STATUS_NUMBERS.get(value, value)
    if value not in ASSAY_STATUS:
        raise invalid_value("status", value, f"must be one of {', '.join(ASSAY_STATUS)}.")
    return ASSAY_STATUS[value]


def page_token(text):
    """The position a page token holds (a JSON object), {} for the first page."""
    if not text:
        return {}
    try:
        position = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (ValueError, binascii.Error):
        position = None
    if not isinstance(position, dict):
        raise invalid_value("page_token", text, "not a token this server gave.")
    return position


def make_page_token(position):
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def millis(moment):
    return int(moment.timestamp() * 1000) if moment else None


def from_millis(value):
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise invalid_value("start_time", value, "not a time in milliseconds.") from None


def wire_number(value):
    """A double for the response: non-finite values as protobuf's JSON strings."""
    if value is None or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def as_text(value):
    """A param as MLflow shows one: text (a native run's params may be numbers or lists)."""
    return value if isinstance(value, str) else json.dumps(value)


def artifact_uri(run):
    root = settings.ASSAY_MLFLOW_ARTIFACT_ROOT
    path = f"{run.experiment.key}/{run.pk}/artifacts"
    # Without a store of the team's own, the client is sent to the proxied upload, which
    # Assay refuses with a message saying what to set.
    return f"{root}/{path}" if root else f"mlflow-artifacts:/{path}"


def experiment_json(experiment):
    root = settings.ASSAY_MLFLOW_ARTIFACT_ROOT or "mlflow-artifacts:"
    return {
        "experiment_id": experiment.key,
        "name": experiment.key,
        "artifact_location": f"{root}/{experiment.key}",
        "lifecycle_stage": "active",
        "creation_time": millis(experiment.created_at),
        "last_update_time": millis(experiment.updated_at),
        "tags": [{"key": "mlflow.note.content", "value": experiment.title}],
    }


def run_info_json(run):
    info = {
        "run_id": str(run.pk),
        "run_uuid": str(run.pk),
        "run_name": run.name,
        "experiment_id": run.experiment.key,
        "user_id": run.tags.get("mlflow.user", ""),
        "status": MLFLOW_STATUS[run.status],
        "start_time": millis(run.started_at),
        "artifact_uri": artifact_uri(run),
        "lifecycle_stage": "active",
    }
    if run.finished_at:
        info["end_time"] = millis(run.finished_at)
    return info


def run_json(run, *, metrics, computed_tags):
    """A Run: its info, and data with the latest metrics, params and tags.

    `metrics` are dicts (key, value, step, timestamp, non_finite) of the run's latest values;
    `computed_tags` are tags Assay works out when read (should-stop), which win over stored.
    """
    tags = {**run.tags, "mlflow.runName": run.name, **computed_tags}
    flagged = sorted(metric["key"] for metric in metrics if metric["non_finite"])
    if flagged:
        tags["assay.non_finite_metrics"] = ",".join(flagged)
    return {
        "info": run_info_json(run),
        "data": {
            "metrics": [
                {
                    "key": metric["key"],
                    "value": wire_number(metric["value"]),
                    "timestamp": metric["timestamp"],
                    "step": metric["step"],
                }
                for metric in metrics
            ],  # fmt: skip
            "params": [{"key": key, "value": as_text(value)} for key, value in run.params.items()],
            "tags": [{"key": key, "value": str(value)} for key, value in tags.items()],
        },
    }
