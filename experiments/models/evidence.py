"""What training jobs report: runs, their metric points, ingest batches and artifacts, and
the reads of that evidence as Run and MetricSummary QuerySet methods and Run.series.

NaN is stored as NULL: SQLite turns a REAL NaN into NULL on its own, so doing the same on
PostgreSQL keeps both backends identical (MIN/MAX/AVG skip it alike). `NaNFloatField` turns
NULL back into NaN when read. Infinity is stored as itself on both.
"""

import hashlib
import json
import math
import re
from collections import defaultdict, namedtuple
from itertools import repeat
from urllib.parse import urlsplit

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from ..enums import AcceleratorVendor, Precision, RunStatus, Runtime, Stage
from .chunks import Points, SeriesChunk
from .curves import CurveTile
from .ingest import PointColumns, insert_rows


class NaNFloatField(models.FloatField):
    """A float column where NaN is kept as NULL (the column is nullable for that only)."""

    def __init__(self, *args, **kwargs):
        kwargs["null"] = True
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("null", None)
        return name, path, args, kwargs

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is not None and math.isnan(value):
            return None
        return value

    def from_db_value(self, value, expression, connection):
        return math.nan if value is None else value


def json_safe(value):
    """`value` with non-finite floats as the strings "NaN", "Infinity", "-Infinity".

    PostgreSQL's jsonb refuses NaN and Infinity, so params, summaries and gate decisions'
    evidence snapshots keep them as text (as_number reads them back).
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


NON_FINITE_NAMES = {"nan": math.nan, "infinity": math.inf, "inf": math.inf}


def as_number(value):
    """A stored value as a float (undoing json_safe, and the "nan"/"inf" that snapshots
    were written with before), or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        sign = -1.0 if value.startswith("-") else 1.0
        name = value.lstrip("+-").lower()
        if name in NON_FINITE_NAMES:
            return sign * NON_FINITE_NAMES[name]
    return None


class IdempotencyKeyReused(ValidationError):
    """A batch came with the key of an earlier, different batch of the same run."""


class TooManyMetrics(ValidationError):
    """A batch or a summary would take a run past ASSAY_MAX_METRICS_PER_RUN metric names.

    `fields` names the refused parts of the body ("points.3.key"), so that a client can drop
    only the points with new names and send the rest of its batch again.
    """

    def __init__(self, message, fields=()):
        super().__init__(message)
        self.fields = list(fields)


def check_metric_count(run, names, fields=()):
    """Refuse `names` (every distinct metric name the run would then have) above the cap.

    Each name is a row on the experiment page and a series to compare, so an unbounded
    number of them (a job logging a metric per example id) would swamp pages and decisions.
    """
    limit = settings.ASSAY_MAX_METRICS_PER_RUN
    if len(names) > limit:
        raise TooManyMetrics(
            f"run {run.pk} ({run.name!r}) of {run.experiment.key} would report "
            f"{len(names):,} distinct metric names; the limit is {limit:,} per run "
            "(ASSAY_MAX_METRICS_PER_RUN)",
            fields,
        )


# A version as drivers and frameworks print it: "550.54.15", "12.4", "6.2.41133", "2.5.1+cu124".
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$"
validate_version = RegexValidator(
    re.compile(VERSION_PATTERN),
    "a version is letters, digits and . + _ - (e.g. 12.4, 550.54.15, 2.5.1+cu124)",
)
PLATFORM_FIELDS = (
    "accelerator_vendor", "accelerator_model", "accelerator_count", "driver_version",
    "runtime", "runtime_version", "framework", "framework_version", "precision",
)  # fmt: skip


class RunNotRunning(ValidationError):
    """A write to a run that has finished: its evidence is no longer open to change."""

    def __init__(self, run, what):
        super().__init__(f"Run “{run.name}” is {run.status}: it takes no more {what}.")


class RunQuerySet(models.QuerySet):
    """Runs, and what they reported read in a fixed number of queries however many points
    were logged: from the per-series summaries kept at ingest (MetricSummary)."""

    def for_experiment(self, experiment):
        return self.filter(experiment=experiment)

    def counting_for(self, stage):
        """Runs whose evidence a stage's gate is decided on: its own, and runs carried over."""
        return self.filter(models.Q(stage=stage) | models.Q(carry_overs__stage=stage)).distinct()

    def counted(self, *, finished_only=False):
        """(counted, left_out): the runs whose values count, and [(run, why not)] for the others.

        A run reported again with the same variant and seed (on the same platform) replaces
        the earlier one: the latest counts, so re-running a seed cannot double its weight. The
        same seed on another accelerator or precision is another run, not a re-run: it is
        what a drift comparison needs. With `finished_only`
        (the evidence a gate is decided on) running, failed and killed runs are left out.
        """
        return counted_runs(list(self), finished_only=finished_only)

    def latest_stage_evidence(self):
        """{experiment id: (stage, counted runs)} for the experiments these runs belong to.

        Per experiment, the finished runs counted (as counted() counts them) for the latest
        stage that has any, its own or carried over: the evidence its last or next gate is
        decided on. An experiment that just passed a gate has no runs of its new stage yet,
        and its previous stage's evidence is still what it has shown. Two queries however
        many experiments there are.
        """
        by_experiment = defaultdict(lambda: defaultdict(list))
        for run in self.filter(status=RunStatus.FINISHED).prefetch_related("carry_overs"):
            for stage in {run.stage, *(carry.stage for carry in run.carry_overs.all())}:
                by_experiment[run.experiment_id][stage].append(run)
        order = list(Stage.values)
        evidence = {}
        for experiment_id, by_stage in by_experiment.items():
            stage = max(by_stage, key=order.index)
            evidence[experiment_id] = (stage, counted_runs(by_stage[stage])[0])
        return evidence

    def values_by_metric(self, metrics=None, *, among=None):
        """{metric: [(run, value)]}, one pair per run that has the metric, metrics sorted by name.

        The value is the run's summary metric when it finished with one, else the last value it
        logged (by step) outside any bucket. Every metric these runs logged or summarised is
        included (those only logged in buckets with no pairs), or only `metrics` when given;
        the pairs are of the runs `among` when given (counted()), else of all these runs. A
        fixed number of queries however many metrics there are: a page or a gate decision
        must not cost a query per metric name.
        """
        runs = list(self) if among is None else among
        summaries = MetricSummary.objects.for_runs(self)
        if metrics is not None:
            summaries = summaries.filter(key__in=metrics, bucket="")
        names = set(metrics) if metrics is not None else set()
        last_logged = defaultdict(dict)
        for run_id, key, bucket, last_value in summaries.values_list(
            "run_id", "key", "bucket", "last_value"
        ):
            if metrics is None:
                names.add(key)
            if bucket == "":
                last_logged[key][run_id] = last_value
        if metrics is None:
            names.update(name for run in runs for name in run.summary)
        values = {}
        for metric in sorted(names):
            logged = last_logged.get(metric, {})
            pairs = []
            for run in runs:
                value = run.summary_value(metric) if run.is_finished else None
                if value is None:
                    value = logged.get(run.pk)
                if value is not None:
                    pairs.append((run, value))
            values[metric] = pairs
        return values

    def bucket_values(self, metric):
        """[(run, bucket, value)]: each run's last value of the metric in each bucket label."""
        runs = {run.pk: run for run in self}
        rows = (
            MetricSummary.objects.for_runs(self)
            .filter(key=metric)
            .exclude(bucket="")
            .order_by("run_id", "bucket")
            .values_list("run_id", "bucket", "last_value")
        )
        return [(runs[run_id], bucket, value) for run_id, bucket, value in rows if run_id in runs]

    def non_finite_metrics(self):
        """Names of metrics with a NaN or infinite value, logged or in a run's summary."""
        names = set(
            MetricSummary.objects.for_runs(self)
            .filter(has_non_finite=True)
            .values_list("key", flat=True)
            .distinct()
        )
        for run in self:
            for metric in run.summary:
                value = run.summary_value(metric)
                if value is not None and not math.isfinite(value):
                    names.add(metric)
        return names


def counted_runs(runs, *, finished_only=False):
    """(counted, left_out) among `runs` of one experiment: see RunQuerySet.counted."""
    left_out = []
    if finished_only:
        left_out += [
            (run, f"{run.status}, not finished") for run in runs if run.status != RunStatus.FINISHED
        ]
        runs = [run for run in runs if run.status == RunStatus.FINISHED]
    latest = {}
    for run in sorted(runs, key=lambda run: (run.started_at, run.pk)):
        if run.seed is None:
            continue
        # The same seed on another platform is a second run, not a re-run (drift compares them).
        key = (run.variant, run.seed, run.platform)
        earlier = latest.get(key)
        if earlier is not None:
            left_out.append((earlier, f"replaced by {run.name} (same variant and seed)"))
        latest[key] = run
    replaced = {run.pk for run, reason in left_out if reason.startswith("replaced")}
    return [run for run in runs if run.pk not in replaced], left_out


class Run(models.Model):
    """One training job's run of an experiment, e.g. the candidate with seed 3."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="runs"
    )
    # The stage the experiment was in when the run was created: it never changes.
    stage = models.CharField(max_length=20, choices=Stage, blank=True)
    name = models.CharField(max_length=200)
    variant = models.CharField(max_length=100, default="candidate")
    seed = models.IntegerField(null=True, blank=True)
    # Chosen by the client so that a retried or spooled "create run" finds the same run.
    client_key = models.CharField(max_length=64, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # Labels a job may change while it runs (MLflow's run tags); params are fixed once logged.
    tags = models.JSONField(default=dict, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=200, blank=True)
    gpu = models.CharField(max_length=200, blank=True, help_text="GPU description")
    # The platform, in fields a drift comparison and a reference criterion can group by.
    accelerator_vendor = models.CharField(max_length=20, choices=AcceleratorVendor, blank=True)
    accelerator_model = models.CharField(
        max_length=100, blank=True, help_text="e.g. H100 80GB HBM3, MI300X"
    )
    accelerator_count = models.PositiveSmallIntegerField(null=True, blank=True)
    driver_version = models.CharField(max_length=50, blank=True, validators=[validate_version])
    runtime = models.CharField(max_length=10, choices=Runtime, blank=True)
    runtime_version = models.CharField(
        max_length=50, blank=True, validators=[validate_version], help_text="CUDA or ROCm version"
    )
    framework = models.CharField(max_length=50, blank=True, help_text="e.g. torch, jax")
    framework_version = models.CharField(max_length=50, blank=True, validators=[validate_version])
    precision = models.CharField(max_length=10, choices=Precision, blank=True)
    status = models.CharField(max_length=20, choices=RunStatus, default=RunStatus.RUNNING)
    summary = models.JSONField(default=dict, blank=True, help_text="Final metrics")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["variant", "seed", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "client_key"],
                condition=~models.Q(client_key=""),
                name="run_client_key_unique_per_experiment",
            ),
            models.CheckConstraint(
                condition=models.Q(stage__in=Stage.values), name="run_stage_valid"
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Tag a new run with the experiment's stage; the stage's first run freezes its criteria."""
        creating = self._state.adding
        if creating and not self.stage:
            self.stage = self.experiment.stage
        with transaction.atomic():
            super().save(*args, **kwargs)
            if creating:
                _, froze = self.experiment.freezes.get_or_create(
                    stage=self.stage, defaults={"frozen_at": self.started_at}
                )
                if froze:
                    self.experiment.record(
                        "criterion",
                        f"{self.get_stage_display()} criteria frozen: its first run "
                        f"“{self.name}” reported",
                        stage=self.stage,
                    )

    @classmethod
    def start(cls, experiment, *, name, client_key="", params=None, **fields):
        """Create a run, or return the one already created with the same client_key."""
        if client_key:
            existing = cls.objects.filter(experiment=experiment, client_key=client_key).first()
            if existing:
                return existing, False
        run = cls(
            experiment=experiment,
            stage=experiment.stage,
            name=name,
            client_key=client_key,
            params=json_safe(params or {}),
            **fields,
        )
        run.full_clean()
        try:
            with transaction.atomic():
                run.save()
        except IntegrityError:
            # Two retries of the same create racing: the unique constraint picked a winner.
            existing = cls.objects.filter(experiment=experiment, client_key=client_key).first()
            if client_key and existing:
                return existing, False
            raise
        return run, True

    @property
    def is_finished(self):
        return self.status != RunStatus.RUNNING

    @property
    def platform(self):
        """What a run's numbers may drift with: "NVIDIA H100 · bf16", "" when not recorded.

        Driver and runtime versions are shown beside it (platform_detail) but do not split
        groups: a driver upgrade would otherwise scatter one experiment into many.
        """
        device = " ".join(
            part
            for part in (
                self.get_accelerator_vendor_display() if self.accelerator_vendor else "",
                self.accelerator_model,
            )
            if part
        )
        return " · ".join(part for part in (device, self.precision) if part)

    @property
    def platform_detail(self):
        """The platform with count, runtime, driver and framework, for a run's row."""
        parts = [self.platform or "platform not recorded"]
        if self.accelerator_count:
            parts.append(f"×{self.accelerator_count}")
        if self.runtime:
            parts.append(f"{self.get_runtime_display()} {self.runtime_version}".strip())
        if self.driver_version:
            parts.append(f"driver {self.driver_version}")
        if self.framework:
            parts.append(f"{self.framework} {self.framework_version}".strip())
        return ", ".join(parts)

    def finish(self, *, status=RunStatus.FINISHED, summary=None):
        """End the run with a status and its final metrics.

        Finishing again the same way (a retried call) changes nothing; finishing it another
        way, or with other metrics, is refused (RunNotRunning): the evidence is closed.
        """
        if status not in RunStatus.values or status == RunStatus.RUNNING:
            raise ValidationError({"status": f"cannot finish a run as {status!r}"})
        if self.is_finished:
            merged = {**self.summary, **json_safe(summary or {})}
            if status == self.status and merged == self.summary:
                return
            raise RunNotRunning(self, "status or summary changes")
        if summary and set(summary) - set(self.summary):
            logged = self.metric_summaries.values_list("key", flat=True).distinct()
            check_metric_count(self, {*logged, *self.summary, *summary})
        self.status = status
        if summary:
            self.summary = {**self.summary, **json_safe(summary)}
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "summary", "finished_at"])

    def mark_failed(self, *, by, reason):
        """A Lead closes a run whose job died without finishing it (it would block a gate).

        Only a running run: a finished run's status is evidence and stays as it was reported.
        The Lead and the reason go into the experiment's history.
        """
        if not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied("Only a Lead can mark a run failed.")
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"reason": "say why the run is marked failed"})
        with transaction.atomic():
            locked = Run.objects.select_for_update().get(pk=self.pk)
            if locked.is_finished:
                raise RunNotRunning(locked, "status changes")
            locked.status = RunStatus.FAILED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "finished_at"])
            self.experiment.record(
                "status",
                f"Run “{locked.name}” marked failed (was running): {reason}",
                by=by,
                run=locked.pk,
                run_status=locked.status,
            )
        self.status, self.finished_at = locked.status, locked.finished_at

    def summary_value(self, metric):
        return as_number(self.summary.get(metric))

    def log_points(self, points, *, idempotency_key):
        """Store one batch of points, all or nothing; a batch already stored is not stored again.

        `points` are dicts with key, value, step and optional wall_time and bucket. Returns
        (ingest batch, created); created is False when the key was seen before for this run.
        """
        return Run.log_points_to(
            self.experiment_id, self.pk, points, idempotency_key=idempotency_key
        )

    @classmethod
    def log_points_to(cls, experiment_id, run_id, points, *, idempotency_key):
        """log_points() for the run `run_id` of an experiment, found and locked in one query
        (the APIs' path: a job sends many batches a second); Run.DoesNotExist when the
        experiment has no such run."""
        with transaction.atomic():
            # Locking the run serialises batches of one run, so summaries count every point once.
            locked = cls._locked_for_points(experiment_id, run_id)
            columns = PointColumns.of(points)
            content_hash = IngestBatch.hash_columns(columns)
            batch = None
            if not locked.is_finished:
                batch = IngestBatch.record(locked, idempotency_key, len(points), content_hash)
            if batch is None:
                batch = IngestBatch.objects.filter(
                    run=locked, idempotency_key=idempotency_key
                ).first()
                if batch is None:
                    raise RunNotRunning(locked, "metric points")
                if not batch.is_same_as(points, content_hash):
                    raise IdempotencyKeyReused(
                        {"idempotency_key": "already used for a different batch of this run"}
                    )
                return batch, False
            rows, series = MetricSummary.absorb(locked, columns)
            MetricPoint.insert_many(rows)
            SeriesChunk.absorb(series)
            CurveTile.absorb(series)
        return batch, True

    @classmethod
    def _locked_for_points(cls, experiment_id, run_id):
        """The run, locked, with only what a batch needs loaded (other fields load on use).
        Plain SQL: the ORM spends more CPU building this query than the database running it."""
        if not 0 < run_id < 2**63:
            raise cls.DoesNotExist
        # In the model's field order, as from_db() takes them.
        fields = [f.attname for f in cls._meta.concrete_fields
                  if f.attname in ("id", "experiment_id", "status", "name")]  # fmt: skip
        quote = connection.ops.quote_name
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(map(quote, fields))} FROM {quote(cls._meta.db_table)} "
                f"WHERE id = %s AND experiment_id = %s{lock}",
                [run_id, experiment_id],
            )
            row = cursor.fetchone()
        if row is None:
            raise cls.DoesNotExist
        return cls.from_db(connection.alias, fields, row)

    def add_artifact(self, *, uri, kind="", size=None, sha256=""):
        """Register an artifact; returns (artifact, created).

        Registering the same record again (a spooled artifact replayed after its first send
        did arrive) returns the artifact already there. A file rewritten in place (same uri,
        another size or digest) is a new artifact.
        """
        artifact = Artifact(run=self, uri=uri, kind=kind, size=size, sha256=sha256.lower())
        artifact.full_clean()
        with transaction.atomic():
            # The run's row lock serialises two replays of one spool.
            Run.objects.select_for_update().filter(pk=self.pk).first()
            existing = self.artifacts.filter(
                uri=artifact.uri, kind=artifact.kind, size=artifact.size, sha256=artifact.sha256
            ).first()
            if existing:
                return existing, False
            if Run.objects.get(pk=self.pk).is_finished:
                raise RunNotRunning(self, "artifacts")
            artifact.save()
        return artifact, True


class RunCarryOver(models.Model):
    """A Lead's explicit choice that a run of an earlier stage also counts for a later gate."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="carry_overs")
    stage = models.CharField(max_length=20, choices=Stage)
    carried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    carried_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "stage"], name="one_carry_over_per_stage")
        ]

    def __str__(self):
        return f"{self.run} carried into {self.get_stage_display()}"


class MetricPoint(models.Model):
    """A bucketed point (a value per stratum of an evaluation, e.g. accuracy by sequence
    length): few per run, read by bucket. A run's un-bucketed points, its curves, are stored
    packed in SeriesChunk rows (experiments/models/chunks.py)."""

    # No index of its own (the index below starts with the run) and no database constraint:
    # PostgreSQL checked that once per point at commit, a sixth of a batch's database time.
    # Points are only written under their run's row lock (log_points), and deleting a run
    # deletes them through Django's cascade; the same holds for curve tiles and chunks.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="points", db_index=False, db_constraint=False
    )
    key = models.CharField(max_length=100)
    bucket = models.CharField(max_length=100, help_text="Stratum label")
    step = models.BigIntegerField()
    value = NaNFloatField()
    wall_time = models.FloatField(null=True, blank=True, help_text="Unix time, seconds")
    # Arrival order within (run, key, bucket): MLflow history pages follow it.
    seq = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["run", "key", "bucket", "seq"], name="metricpoint_run_key_seq"),
        ]

    def __str__(self):
        return f"{self.key}[{self.bucket}]@{self.step}={self.value}"

    COLUMNS = ("run_id", "key", "bucket", "step", "value", "wall_time", "seq")

    @classmethod
    def insert_many(cls, rows):
        """Insert tuples in COLUMNS order (NaN as None)."""
        insert_rows(cls, cls.COLUMNS, rows)


class MetricSummaryQuerySet(models.QuerySet):
    def for_runs(self, runs):
        """The summaries of `runs` (a queryset or a list of runs)."""
        return self.filter(run__in=runs)

    def names(self):
        """The sorted distinct metric names."""
        return sorted(self.values_list("key", flat=True).distinct())

    def sample_values(self, metric):
        """({run_id: [values]}, source) for a percentile over samples rather than run summaries.

        Bucketed evaluations give each run's last value per bucket ("per-bucket"); a metric
        logged as many points outside buckets gives every logged value ("per-sample"). None
        when the runs logged neither, and a percentile can only be taken across the runs'
        summaries.
        """
        summaries = self.filter(key=metric)
        buckets = {}
        for run_id, value in summaries.exclude(bucket="").values_list("run_id", "last_value"):
            buckets.setdefault(run_id, []).append(value)
        if buckets:
            return buckets, "per-bucket"
        unbucketed = summaries.filter(bucket="", count__gt=0)
        if unbucketed.filter(count__gt=1).exists():
            logged = SeriesChunk.points(unbucketed.values_list("run_id", flat=True), metric)
            return {run_id: points.value.tolist() for run_id, points in logged.items()}, (
                "per-sample"
            )
        return None


class MetricSummary(models.Model):
    """Per (run, key, bucket): kept up to date at ingest so reads never scan the points."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metric_summaries")
    key = models.CharField(max_length=100)
    bucket = models.CharField(max_length=100, blank=True)
    count = models.BigIntegerField(default=0)
    first_step = models.BigIntegerField(null=True)
    last_step = models.BigIntegerField(null=True)
    last_value = NaNFloatField()
    last_wall_time = models.FloatField(null=True, help_text="Unix time of the last step's point")
    has_non_finite = models.BooleanField(default=False)

    objects = MetricSummaryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "key", "bucket"], name="metricsummary_unique_series"
            )
        ]

    def __str__(self):
        return f"{self.run} {self.key} {self.bucket}".strip()

    @classmethod
    def absorb(cls, run, columns):
        """Fold a batch (PointColumns) into the summaries of a locked run.

        Returns (rows, series): the bucketed points as rows to insert (MetricPoint.COLUMNS
        tuples), and the new points of each un-bucketed series as arrays for the chunks and
        the curve tiles ({(run_id, key): chunks.Points}, NaN where a value or wall time is
        missing).
        """
        by_series = defaultdict(list)
        for position, series in enumerate(zip(columns.keys, columns.buckets, strict=True)):
            by_series[series].append(position)
        parts, folds = {}, []
        for (key, bucket), positions in by_series.items():
            if len(by_series) == 1:  # the whole batch is one series: nothing to pick
                step, value, wall = columns.step, columns.value, columns.wall_time
            else:
                at = np.array(positions, dtype=np.intp)
                step, value, wall = columns.step[at], columns.value[at], columns.wall_time[at]
            parts[(key, bucket)] = step, value, wall
            # Ties go to the later point: a value logged again for a step replaces it.
            last = len(step) - 1 - int(np.argmax(step[::-1]))
            folds.append(_Fold(
                key, bucket, len(step), int(step.min()), int(step[last]),
                None if math.isnan(value[last]) else float(value[last]),
                None if math.isnan(wall[last]) else float(wall[last]),
                not np.isfinite(value).all(),
            ))  # fmt: skip
        counts = cls._fold_into_stored(run, folds)
        fresh = [fold for fold in folds if (fold.key, fold.bucket) not in counts]
        if fresh:
            cls._create(run, fresh, columns)
            counts.update({(fold.key, fold.bucket): fold.count for fold in fresh})
        rows, arrays = [], {}
        for (key, bucket), (step, value, wall) in parts.items():
            end = counts[(key, bucket)]
            seq = np.arange(end - len(step), end, dtype=np.int64)
            if bucket == "":
                arrays[(run.pk, key)] = Points(seq, step, value, wall)
            else:
                rows.extend(zip(
                    repeat(run.pk), repeat(key), repeat(bucket), step.tolist(),
                    [None if value != value else value for value in value.tolist()],  # NaN
                    [None if wall != wall else wall for wall in wall.tolist()],  # as NULL
                    seq.tolist(), strict=False,
                ))  # fmt: skip
        return rows, arrays

    @classmethod
    def _fold_into_stored(cls, run, folds):
        """Fold each _Fold into its stored summary, if there is one, in one statement per 2,000
        series (no read first: the arithmetic is the database's). {(key, bucket): count} of
        those folded."""
        quote = connection.ops.quote_name
        table = quote(cls._meta.db_table)

        def given(name, field):
            kind = cls._meta.get_field(field).db_type(connection)
            # CAST: in a VALUES list PostgreSQL types a NULL as text.
            return f"CAST(given.{name} AS {kind})"

        def old(field):
            return f"{table}.{quote(field)}"

        last_step = given("last_step", "last_step")
        later = f"({old('last_step')} IS NULL OR {last_step} >= {old('last_step')})"
        update = (
            f"UPDATE {table} SET "
            f"{quote('count')} = {old('count')} + {given('n', 'count')}, "
            f"first_step = CASE WHEN {old('first_step')} IS NULL OR "
            f"{given('first_step', 'first_step')} < {old('first_step')} "
            f"THEN {given('first_step', 'first_step')} ELSE {old('first_step')} END, "
            + ", ".join(
                f"{field} = CASE WHEN {later} THEN {given(field, field)} ELSE {old(field)} END"
                for field in ("last_step", "last_value", "last_wall_time")
            )
            + f", has_non_finite = {old('has_non_finite')} OR "
            f"{given('non_finite', 'has_non_finite')} "
            f"FROM given WHERE {old('run_id')} = %s AND {old('key')} = given.g_key "
            f"AND {old('bucket')} = given.g_bucket "
            f"RETURNING {quote('key')}, bucket, {quote('count')}"
        )
        counts = {}
        with connection.cursor() as cursor:
            for start in range(0, len(folds), 2000):  # SQLite allows 32,766 parameters
                part = folds[start : start + 2000]
                marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
                cursor.execute(
                    "WITH given (g_key, g_bucket, n, first_step, last_step, last_value, "
                    f"last_wall_time, non_finite) AS (VALUES {marks}) {update}",
                    [value for fold in part for value in fold] + [run.pk],
                )
                counts.update({(key, bucket): count for key, bucket, count in cursor.fetchall()})
        return counts

    @classmethod
    def _create(cls, run, folds, columns):
        """The summaries of series the run had not logged, once their names are allowed."""
        new_names = {fold.key for fold in folds}
        logged = set(cls.objects.filter(run=run).values_list("key", flat=True).distinct())
        if new_names - logged:
            # Only a batch that brings new names pays for the count: most batches bring none.
            refused = [
                f"points.{index}.key"
                for index, key in enumerate(columns.keys)
                if key in new_names - logged
            ]
            check_metric_count(run, {*logged, *run.summary, *new_names}, refused)
        cls.objects.bulk_create(
            cls(run=run, key=fold.key, bucket=fold.bucket, count=fold.count,
                first_step=fold.first_step, last_step=fold.last_step,
                last_value=math.nan if fold.last_value is None else fold.last_value,
                last_wall_time=fold.last_wall_time, has_non_finite=fold.non_finite)
            for fold in folds
        )  # fmt: skip


# What one batch brings to one series' summary (NaN values as None).
_Fold = namedtuple(
    "_Fold", "key bucket count first_step last_step last_value last_wall_time non_finite"
)


class IngestBatch(models.Model):
    """A batch of points accepted for a run, remembered by its idempotency key."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="ingest_batches")
    idempotency_key = models.CharField(max_length=100)
    points = models.PositiveIntegerField()
    # SHA-256 of the points, so a key reused for other points of the same count is caught;
    # empty for batches stored before it was kept, which are compared by count alone.
    content_hash = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "idempotency_key"], name="ingestbatch_key_unique_per_run"
            )
        ]

    def __str__(self):
        return f"{self.run} {self.idempotency_key}"

    @classmethod
    def record(cls, run, idempotency_key, points, content_hash):
        """The new batch, or None when the run already has one with this key. One statement,
        not a lookup and an insert: this runs for every batch a job sends."""
        table = connection.ops.quote_name(cls._meta.db_table)
        received_at = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (run_id, idempotency_key, points, content_hash, "
                "received_at) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (run_id, idempotency_key) DO NOTHING RETURNING id",
                [run.pk, idempotency_key, points, content_hash,
                 connection.ops.adapt_datetimefield_value(received_at)],
            )  # fmt: skip
            inserted = cursor.fetchone()
        if inserted is None:
            return None
        return cls(pk=inserted[0], run=run, idempotency_key=idempotency_key, points=points,
                   content_hash=content_hash, received_at=received_at)  # fmt: skip

    @staticmethod
    def hash_columns(columns):
        """A digest of a batch's points (PointColumns) in order; equal for a batch sent again
        unchanged.

        Keys and buckets as one JSON list each, steps as int64, values and wall times as
        float64 bits (every float exactly, NaN and infinities one way; a missing wall time as
        NaN, which a wall time can never be): a few arrays instead of a string per point,
        about a quarter of the cost, which every batch pays.
        """
        fields = [
            json.dumps(columns.keys).encode(),
            json.dumps(columns.buckets).encode(),
            columns.step.tobytes(),
            columns.value.tobytes(),
            columns.wall_time.tobytes(),
        ]
        digest = hashlib.sha256(b"points-v2")
        for field in fields:
            digest.update(len(field).to_bytes(8, "little"))
            digest.update(field)
        return digest.hexdigest()

    @staticmethod
    def hash_points_v1(points):
        """The digest batches stored before points-v2 carry (a retry of one must still be
        recognised): repr((key, bucket, step, repr(float(value)), repr(wall_time))) per point."""
        names = {}
        text = "".join(
            f"({names.get(key) or names.setdefault(key, repr(key))}, "
            f"{names.get(bucket) or names.setdefault(bucket, repr(bucket))}, {step!r}, "
            f"'{float(value)!r}', '{wall_time!r}')"
            for key, bucket, step, value, wall_time in (
                (point["key"], point.get("bucket") or "", point["step"], point["value"],
                 point.get("wall_time"))
                for point in points
            )
        )  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()

    def is_same_as(self, points, content_hash):
        if self.content_hash:
            return self.content_hash in (content_hash, self.hash_points_v1(points))
        return self.points == len(points)


def validate_artifact_uri(uri):
    try:
        parts = urlsplit(uri)
    except ValueError as error:  # e.g. "Invalid IPv6 URL" for s3://[x
        raise ValidationError(f"not a valid URI: {error}") from error
    if parts.scheme not in Artifact.SCHEMES:
        raise ValidationError(
            f"URI scheme must be one of {', '.join(Artifact.SCHEMES)}, not {parts.scheme!r}"
        )
    if parts.scheme != "file" and not parts.netloc:
        raise ValidationError(f"{parts.scheme}:// URI needs a bucket or host")
    if not (parts.path.strip("/") or parts.netloc):
        raise ValidationError("URI names no object")


class Artifact(models.Model):
    """A file a run produced, registered by reference: the bytes stay where they are."""

    SCHEMES = ("s3", "gs", "file", "https")

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    uri = models.CharField(max_length=1000, validators=[validate_artifact_uri])
    kind = models.CharField(max_length=50, blank=True, help_text="checkpoint, dataset, ...")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes")
    sha256 = models.CharField(
        max_length=64,
        blank=True,
        validators=[
            RegexValidator(re.compile(r"^[0-9a-f]{64}$"), "sha256 must be 64 hexadecimal digits")
        ],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.uri
