"""MLflow's tracking REST API, the part its Python client uses, under /mlflow/api/2.0/mlflow/.

A script written for MLflow reports to Assay unchanged, with
MLFLOW_TRACKING_URI=https://<assay>/mlflow and MLFLOW_TRACKING_TOKEN=<an experiment token>.
The token's experiment is the only one there is: its key is both the MLflow experiment's name
and its id (and MLflow's default experiment "0" stands for it too).

Runs go through the same model methods as the native API (experiments/api.py): Run.start,
Run.log_points with an idempotency key (the digest of the request's body, so a log-batch
MLflow's client retries after a 5xx or a dropped connection stores nothing twice),
Run.finish, Run.add_artifact, and the same evaluation after each. The variant and seed come
from the tags assay.variant and assay.seed or the params variant and seed. runs/get answers
the should-stop question in the tags assay.should_stop ("true"/"false") and
assay.stop_reasons.

The platform comes from the tags in PLATFORM_TAGS (assay.accelerator, assay.precision...),
checked by the native API's rules (api.PlatformIn): a bad value is INVALID_PARAMETER_VALUE.
"""

import hashlib
from functools import wraps
from itertools import repeat

import pydantic
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from ninja.errors import HttpError

from . import mlflow_search, tasks
from .api import PlatformIn
from .auth import ApiTokenAuth
from .enums import RunStatus
from .mlflow_protocol import (
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
    MlflowError,
    as_text,
    check_batch_limits,
    entries,
    experiment_json,
    from_millis,
    integer,
    invalid,
    key_values,
    make_page_token,
    metric_points,
    millis,
    page_token,
    read_body,
    run_info_json,
    run_json,
    run_status,
    string,
    wire_number,
)
from .models import MetricPoint, MetricSummary, Run, SeriesChunk
from .models.evidence import IdempotencyKeyReused, RunNotRunning, TooManyMetrics

# What a script that never calls set_experiment() sends: MLflow's default experiment.
DEFAULT_EXPERIMENT_ID = "0"
# MLflow's client asks for 25,000 points of history a page; no page is larger.
HISTORY_PAGE = 25_000
SEARCH_PAGE = 1000
SEARCH_PAGE_MAX = 50_000
ARTIFACT_TAG = "assay.artifact."
# Tag -> the run's platform field (README, "Reporting from MLflow scripts").
PLATFORM_TAGS = {
    "assay.accelerator_vendor": "accelerator_vendor",
    "assay.accelerator": "accelerator_model",
    "assay.accelerator_count": "accelerator_count",
    "assay.driver_version": "driver_version",
    "assay.runtime": "runtime",
    "assay.runtime_version": "runtime_version",
    "assay.framework": "framework",
    "assay.framework_version": "framework_version",
    "assay.precision": "precision",
}


def endpoint(*methods):
    """A view of this API: token checked, body read, errors in MLflow's shape (never a 5xx
    for a request's fault: MLflow's client retries those)."""

    def decorate(view):
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapper(request):
            try:
                if request.method not in methods:
                    raise MlflowError(
                        "ENDPOINT_NOT_FOUND",
                        f"{request.path} takes {' or '.join(methods)}, not {request.method}.",
                    )
                token = _authenticate(request)
                return JsonResponse(view(request, token, read_body(request)))
            except MlflowError as error:
                return error.response()
            except (RunNotRunning, IdempotencyKeyReused) as error:
                return MlflowError("RESOURCE_CONFLICT", " ".join(error.messages)).response()
            except TooManyMetrics as error:
                return MlflowError("RESOURCE_LIMIT_EXCEEDED", " ".join(error.messages)).response()
            except ValidationError as error:
                return invalid(_validation_message(error)).response()

        return wrapper

    return decorate


def _validation_message(error):
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in error.message_dict.items()
            for message in messages
        )
    return " ".join(error.messages)


def _authenticate(request):
    """The token of `Authorization: Bearer <key>`, through the native API's check and limit."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise MlflowError(
            "UNAUTHENTICATED",
            "Send an Assay experiment token: set MLFLOW_TRACKING_TOKEN=assay_... (MLflow's "
            "client sends it as Authorization: Bearer).",
        )
    try:
        return ApiTokenAuth().authenticate(request, key.strip())
    except HttpError as error:
        code = "REQUEST_LIMIT_EXCEEDED" if error.status_code == 429 else "UNAUTHENTICATED"
        # The native API's message names the native client's variable.
        message = str(error).replace("ASSAY_TOKEN", "MLFLOW_TRACKING_TOKEN")
        raise MlflowError(code, message) from None


def _writable(token, *, closed_ok=False):
    """Refuse a write the token may not make: read-only (403), experiment closed (409)."""
    refusal = token.refusal_for(token.experiment.key, write=True, closed_ok=closed_ok)
    if refusal:
        status, message = refusal
        raise MlflowError("PERMISSION_DENIED" if status == 403 else "RESOURCE_CONFLICT", message)


def _experiment(token, experiment_id):
    experiment = token.experiment
    if experiment_id in (experiment.key, DEFAULT_EXPERIMENT_ID):
        return experiment
    raise MlflowError(
        "RESOURCE_DOES_NOT_EXIST",
        f"No experiment with ID {experiment_id!r} for this token: it reports to "
        f"{experiment.key} (mlflow.set_experiment({experiment.key!r})).",
    )


def _run(token, body):
    """The token's experiment's run named by run_id (or the older run_uuid)."""
    run_id = _run_id(token, body)
    run = Run.objects.for_experiment(token.experiment).select_related("experiment")
    return run.filter(pk=run_id).first() or _no_such_run(token, run_id)


def _run_id(token, body):
    """run_id (or the older run_uuid) as the number of an Assay run."""
    run_id = string(body, "run_id", required=True, aliases=("run_uuid",))
    if run_id.isascii() and run_id.isdigit() and len(run_id) < 19:
        return int(run_id)
    _no_such_run(token, run_id)


def _no_such_run(token, run_id):
    raise MlflowError(
        "RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found in {token.experiment.key}."
    )


def _latest_metrics(runs):
    """{run id: {key: latest metric}} from the ingest summaries, in one query."""
    runs = list(runs)
    latest = {run.pk: {} for run in runs}
    summaries = MetricSummary.objects.filter(run__in=[run.pk for run in runs], bucket="").values(
        "run_id", "key", "last_value", "last_step", "has_non_finite", "last_wall_time"
    )
    for row in summaries:
        latest[row["run_id"]][row["key"]] = {
            "key": row["key"],
            "value": row["last_value"],
            "step": row["last_step"] or 0,
            "timestamp": int((row["last_wall_time"] or 0) * 1000),
            "non_finite": row["has_non_finite"],
        }
    # A native run's summary (final metrics) counts as its latest value where no point does.
    for run in runs:
        for key in run.summary:
            number = run.summary_value(key)
            if key not in latest[run.pk] and number is not None:
                latest[run.pk][key] = {
                    "key": key, "value": number, "step": 0,
                    "timestamp": millis(run.finished_at) or 0, "non_finite": number != number,
                }  # fmt: skip
    return latest


def _should_stop_tags(experiment):
    stop, reasons = experiment.should_stop()
    return {
        "assay.should_stop": "true" if stop else "false",
        "assay.stop_reasons": "; ".join(str(reason) for reason in reasons),
    }


def _runs_json(runs, experiment):
    latest = _latest_metrics(runs)
    computed = _should_stop_tags(experiment)
    return [
        run_json(run, metrics=list(latest[run.pk].values()), computed_tags=computed) for run in runs
    ]


def _run_fields(tags, params):
    """The run's own fields that its tags (first) or params name."""
    fields = {}
    variant = tags.get("assay.variant") or params.get("variant")
    if variant:
        fields["variant"] = as_text(variant)
    seed = tags.get("assay.seed") or params.get("seed")
    if seed not in (None, ""):
        try:
            fields["seed"] = int(as_text(seed))
        except ValueError:
            raise invalid(f"The seed (tag assay.seed or param seed) must be an integer, "
                          f"got {seed!r}.") from None  # fmt: skip
        if not -(2**31) <= fields["seed"] < 2**31:
            raise invalid(f"The seed must fit in 32 bits, got {seed!r}.")
    for tag, field in (("mlflow.source.git.commit", "git_commit"), ("assay.host", "host"),
                       ("assay.gpu", "gpu"), ("mlflow.runName", "name")):  # fmt: skip
        if tags.get(tag):
            fields[field] = tags[tag]
    fields.update(_platform_fields(tags))
    return fields


def _platform_fields(tags):
    """The platform fields the tags name, checked as the native API checks them."""
    given = {field: tags[tag] for tag, field in PLATFORM_TAGS.items() if tags.get(tag)}
    if not given:
        return {}
    count = given.get("accelerator_count")
    if count is not None:
        try:
            given["accelerator_count"] = int(count)
        except ValueError:
            raise invalid(f"The tag assay.accelerator_count must be a whole number, "
                          f"got {count!r}.") from None  # fmt: skip
    try:
        checked = PlatformIn(**given)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        field = problem["loc"][-1]
        tag = next(tag for tag, name in PLATFORM_TAGS.items() if name == field)
        raise invalid(f"The tag {tag}: {problem['msg']}, got {given[field]!r}.") from None
    return {field: getattr(checked, field) for field in given}


def _record(run, *, params=(), tags=()):
    """Merge params and tags into the run, and the fields they name; all or nothing.

    A param keeps its first value (MLflow's rule); a tag takes its latest. Sending what the
    run already has (a retried request) changes nothing, even on a finished run. A tag
    assay.artifact.<kind> = <URI> registers that artifact.
    """
    with transaction.atomic():
        locked = Run.objects.select_for_update().select_related("experiment").get(pk=run.pk)
        new_params = dict(locked.params)
        for key, value in params:
            if key in new_params and as_text(new_params[key]) != value:
                raise invalid(
                    f"Changing param values is not allowed. Param with key='{key}' was already "
                    f"logged with value='{as_text(new_params[key])}' for run ID='{run.pk}'. "
                    f"Attempted logging new value '{value}'."
                )
            new_params[key] = value
        old_tags = locked.tags
        new_tags = {**old_tags, **dict(tags)}
        changes = {
            field: value
            for field, value in _run_fields(new_tags, new_params).items()
            if getattr(locked, field) != value
        }
        if new_params != locked.params:
            changes["params"] = new_params
        if new_tags != locked.tags:
            changes["tags"] = new_tags
        if not changes:
            return locked
        if locked.is_finished:
            raise RunNotRunning(locked, "params or tags")
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.clean_fields(exclude={f.name for f in Run._meta.fields} - set(changes))
        locked.save(update_fields=list(changes))
        _register_artifacts(locked, {key: value for key, value in tags
                                     if value != old_tags.get(key)})  # fmt: skip
    return locked


def _register_artifacts(run, tags):
    """An artifact for each tag assay.artifact.<kind> = <URI>."""
    for key, value in tags.items():
        if key.startswith(ARTIFACT_TAG):
            run.add_artifact(uri=value, kind=key.removeprefix(ARTIFACT_TAG)[:50])


def _log(request, token, run_id, points):
    """Store points once: the request's digest is their idempotency key, so the same request
    sent again (MLflow's client retries after a 5xx, a 429 or a dropped connection) stores
    nothing. A digest of the bytes, not the points: a hundredth of the cost."""
    if not points:
        return
    key = f"mlflow-{hashlib.sha256(request.body).hexdigest()}"
    try:
        _, created = Run.log_points_to(token.experiment_id, run_id, points, idempotency_key=key)
    except Run.DoesNotExist:
        _no_such_run(token, run_id)
    if created:
        tasks.queue_evaluation(token.experiment, debounce=True)


# --- experiments ---


@endpoint("GET")
def experiment_get_by_name(request, token, body):
    name = string(body, "experiment_name", required=True)
    if name != token.experiment.key:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST",
            f"Could not find experiment with name {name!r}: this token reports to "
            f"{token.experiment.key} (mlflow.set_experiment({token.experiment.key!r})).",
        )
    return {"experiment": experiment_json(token.experiment)}


@endpoint("GET")
def experiment_get(request, token, body):
    experiment = _experiment(token, string(body, "experiment_id", required=True))
    return {"experiment": experiment_json(experiment)}


@endpoint("POST")
def experiment_create(request, token, body):
    name = string(body, "name", required=True)
    if name == token.experiment.key:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment {name!r} already exists.")
    raise MlflowError(
        "PERMISSION_DENIED",
        f"Assay creates no experiments from MLflow: this token reports to "
        f"{token.experiment.key}; use mlflow.set_experiment({token.experiment.key!r}), not "
        f"{name!r}.",
    )


# --- runs ---


@endpoint("POST")
def run_create(request, token, body):
    experiment = _experiment(token, string(body, "experiment_id") or DEFAULT_EXPERIMENT_ID)
    _writable(token)
    tags = dict(key_values(entries(body, "tags"), "tags", value_limit=MAX_TAG_VAL_LENGTH))
    if string(body, "user_id"):
        tags.setdefault("mlflow.user", string(body, "user_id"))
    start_time = integer(body, "start_time")
    fields = _run_fields(tags, {})
    tag_name = fields.pop("name", "")
    name = string(body, "run_name") or tag_name or f"mlflow-{timezone.now():%Y%m%d-%H%M%S}"
    started_at = from_millis(start_time) if start_time is not None else timezone.now()
    with transaction.atomic():
        run, _ = Run.start(experiment, name=name, tags=tags, started_at=started_at, **fields)
        _register_artifacts(run, tags)
    return {"run": _runs_json([run], experiment)[0]}


@endpoint("GET")
def run_get(request, token, body):
    return {"run": _runs_json([_run(token, body)], token.experiment)[0]}


@endpoint("POST")
def run_update(request, token, body):
    _writable(token, closed_ok=True)
    run = _run(token, body)
    name = string(body, "run_name")
    if name and name != run.name:
        run = _record(run, tags=[("mlflow.runName", name)])
    if body.get("status") not in (None, ""):
        status = run_status(body["status"])
        if status == RunStatus.RUNNING:
            if run.is_finished:
                raise RunNotRunning(run, "status changes")
        else:
            run.finish(status=status)
            tasks.queue_evaluation(run.experiment, debounce=False)
    return {"run_info": run_info_json(run)}


@endpoint("POST")
def run_search(request, token, body):
    experiment = token.experiment
    wanted = body.get("experiment_ids") or [experiment.key]
    if not isinstance(wanted, list):
        wanted = [wanted]
    clauses = mlflow_search.parse_filter(string(body, "filter"))
    order_by = body.get("order_by") or []
    orders = mlflow_search.parse_order_by(order_by if isinstance(order_by, list) else [order_by])
    max_results = integer(body, "max_results", default=SEARCH_PAGE, low=1, high=SEARCH_PAGE_MAX + 1)
    offset = page_token(string(body, "page_token")).get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise invalid("page_token: not a token this server gave.")
    if not {str(item) for item in wanted} & {experiment.key, DEFAULT_EXPERIMENT_ID}:
        return {"runs": []}
    runs = list(Run.objects.for_experiment(experiment).select_related("experiment"))
    latest = _latest_metrics(runs)
    runs = [run for run in runs if mlflow_search.matches(run, latest[run.pk], clauses)]
    runs = mlflow_search.sort(runs, latest, orders)
    page = runs[offset : offset + max_results]
    computed = _should_stop_tags(experiment)
    response = {
        "runs": [
            run_json(run, metrics=list(latest[run.pk].values()), computed_tags=computed)
            for run in page
        ]
    }
    if offset + max_results < len(runs):
        response["next_page_token"] = make_page_token({"offset": offset + max_results})
    return response


@endpoint("POST")
def run_log_metric(request, token, body):
    _writable(token)
    run_id = _run_id(token, body)
    metric = {key: body.get(key) for key in ("key", "value", "timestamp", "step")}
    _log(request, token, run_id, metric_points([metric], field="metric"))
    return {}


@endpoint("POST")
def run_log_batch(request, token, body):
    _writable(token)
    metrics, params, tags = entries(body, "metrics"), entries(body, "params"), entries(body, "tags")
    check_batch_limits(metrics, params, tags)
    points = metric_points(metrics)
    params = key_values(params, "params", value_limit=MAX_PARAM_VAL_LENGTH)
    tags = key_values(tags, "tags", value_limit=MAX_TAG_VAL_LENGTH)
    if not (params or tags):
        if points:  # the usual batch, metrics only: the run is looked up as it is locked
            _log(request, token, _run_id(token, body), points)
        else:  # an empty batch still names a run that must exist
            _run(token, body)
        return {}
    run = _run(token, body)
    with transaction.atomic():
        # All or nothing, as MLflow's log-batch: refused points leave no params behind.
        run = _record(run, params=params, tags=tags)
        _log(request, token, run.pk, points)
    return {}


@endpoint("POST")
def run_log_parameter(request, token, body):
    _writable(token)
    run = _run(token, body)
    item = {"key": body.get("key"), "value": body.get("value")}
    _record(run, params=key_values([item], "params", value_limit=MAX_PARAM_VAL_LENGTH))
    return {}


@endpoint("POST")
def run_set_tag(request, token, body):
    _writable(token)
    run = _run(token, body)
    item = {"key": body.get("key"), "value": body.get("value")}
    _record(run, tags=key_values([item], "tags", value_limit=MAX_TAG_VAL_LENGTH))
    return {}


@endpoint("GET")
def metric_get_history(request, token, body):
    run = _run(token, body)
    key = string(body, "metric_key", required=True)
    limit = min(integer(body, "max_results", default=HISTORY_PAGE, low=1), HISTORY_PAGE)
    after = page_token(string(body, "page_token"))
    bucket, seq = "", -1
    if after:
        bucket, seq = after.get("bucket"), after.get("seq")
        if not isinstance(bucket, str) or type(seq) is not int or not 0 <= seq < 2**63:
            raise invalid("page_token: not a token this server gave.")
    # The un-bucketed series first, from its chunks, then the bucketed points, by bucket: a
    # page ends after limit points and the next begins after the last one it gave.
    rows = []
    if bucket == "":
        series = SeriesChunk.points([run.pk], key, seq_from=seq + 1, seq_to=seq + limit + 2)
        if run.pk in series:
            found = series[run.pk]
            rows = list(zip(repeat(""), *(column.tolist() for column in found), strict=False))
    if len(rows) <= limit:
        points = MetricPoint.objects.filter(run=run, key=key)  # bucketed only
        if bucket:
            points = points.filter(bucket__gte=bucket).exclude(bucket=bucket, seq__lte=seq)
        rows += points.order_by("bucket", "seq").values_list(
            "bucket", "seq", "step", "value", "wall_time"
        )[: limit + 1 - len(rows)]
    metrics = [
        {"key": key, "value": wire_number(value), "step": step,
         "timestamp": _millis(wall_time), "run_id": str(run.pk)}
        for _, _, step, value, wall_time in rows[:limit]
    ]  # fmt: skip
    response = {"metrics": metrics}
    if len(rows) > limit:
        last = {"bucket": rows[limit - 1][0], "seq": rows[limit - 1][1]}
        response["next_page_token"] = make_page_token(last)
    return response


def _millis(wall_time):
    """MLflow's timestamp (integer milliseconds) of a wall time; 0 where none was logged."""
    return 0 if wall_time is None or wall_time != wall_time else int(wall_time * 1000)


@csrf_exempt
@login_not_required
def not_found(request, path=""):
    """Anything else under /mlflow: MLflow's ENDPOINT_NOT_FOUND, or why an upload is refused.

    /mlflow/ itself is where MLflow's client says a run can be viewed ("View run at
    .../mlflow/#/experiments/..."): a browser there goes to the experiments' pages.
    """
    if not path and request.method == "GET":
        return redirect("experiments:experiment_list")
    if "mlflow-artifacts/" in request.path:
        return MlflowError(
            "NOT_IMPLEMENTED",
            "Assay does not store artifact files (no proxied upload). Set "
            "ASSAY_MLFLOW_ARTIFACT_ROOT to the team's store (s3://, gs://, file://, https://) so "
            "that log_artifact() writes there itself, and register a file with the tag "
            "assay.artifact.<kind> = <its URI>.",
        ).response()
    return MlflowError(
        "ENDPOINT_NOT_FOUND", f"{request.path} is not part of the MLflow API Assay serves."
    ).response()
