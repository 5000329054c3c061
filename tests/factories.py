"""Keyword-only factory functions for test data. Each app keeps its section below."""

import itertools
from collections import namedtuple

from django.contrib.auth.models import Group, User

PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


def make_user(*, username=None, role="Member", password=PASSWORD, **fields):
    username = username or f"user{next(_sequence)}"
    user = User.objects.create_user(username=username, password=password, **fields)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


# --- radar ---


def make_quadrant(*, name="Techniques", order=0):
    from radar.models import Quadrant

    return Quadrant.objects.get_or_create(name=name, defaults={"order": order})[0]


def _radar_actor():
    """The user who records factory-made moves when a test does not care who."""
    user, _ = User.objects.get_or_create(username="radar-factory")
    return user


def make_technique(*, name=None, quadrant=None, ring="adopt", by=None, at=None, tags=(), **fields):
    """A technique put on the radar through its first RingMove, with the rules satisfied
    (an owner for TRIAL/ASSESS, a dated next action for TRIAL, a reason for HOLD/SKIP)
    unless the test passes those fields itself."""
    import datetime

    from django.utils import timezone
    from django.utils.text import slugify

    from radar.models import Tag, Technique

    name = name or f"Technique {next(_sequence)}"
    by = by or _radar_actor()
    fields.setdefault("slug", slugify(name))
    if ring in ("trial", "assess"):
        fields.setdefault("owner", by)
    if ring == "trial":
        fields.setdefault("next_action", "Benchmark against the baseline")
        fields.setdefault("next_action_due", timezone.localdate() + datetime.timedelta(days=14))
    if at:
        fields.setdefault("created_at", at)
    technique = Technique(name=name, quadrant=quadrant or make_quadrant(), **fields)
    technique.move_to(
        ring,
        by=by,
        at=at,
        reason="Added in a test",
        failed_constraint="Fails a test constraint" if ring in ("hold", "skip") else "",
    )
    for tag in tags:
        technique.tags.add(Tag.objects.get_or_create(name=tag)[0])
    return technique


def move_to_trial(technique, *, by, reason="Worked", **fields):
    """Move `technique` into Trial, which asks for a next action and when it is due."""
    from django.utils import timezone

    from radar.models import Ring

    fields = {"next_action": "Canary", "next_action_due": timezone.localdate(), **fields}
    return technique.move_to(Ring.TRIAL, by=by, reason=reason, **fields)


def make_review(*, held_on=None, **fields):
    from django.utils import timezone

    from radar.models import Review

    return Review.objects.create(held_on=held_on or timezone.localdate(), **fields)


def make_nomination(*, name=None, proposed_by=None, quadrant=None, **fields):
    from radar.models import Nomination

    fields.setdefault("reason", "Reported 2x throughput on our workload size")
    return Nomination.objects.create(
        name=name or f"Nominee {next(_sequence)}",
        quadrant=quadrant or make_quadrant(),
        proposed_by=proposed_by or make_user(),
        **fields,
    )


def nomination_accept_data(nomination, *, owner, **fields):
    """The review page's accept form for `nomination`, filled in: into Assess, owned by `owner`."""
    fields = {
        "ring": "assess",
        "reason": "Long-context contracts next quarter",
        "owner": owner.pk,
        "portfolio_bucket": "exploratory",
        **fields,
    }
    return {f"accept{nomination.pk}-{name}": value for name, value in fields.items()}


# --- papers ---


def make_paper(*, title=None, tags=(), **fields):
    from papers.models import Paper, Tag

    paper = Paper.objects.create(title=title or f"Paper {next(_sequence)}", **fields)
    if tags:
        paper.tags.set(Tag.for_names(tags))
    return paper


def make_pdf(*, paper=None, pages=("A page of the paper. It is short.",), by=None):
    """A PaperPdf with a stored file, queued (its extraction runs only if the test commits)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from papers.models import PaperPdf
    from papers.pdf_builder import text_pdf

    upload = SimpleUploadedFile("paper.pdf", text_pdf(list(pages)))
    return PaperPdf.attach_upload(paper=paper or make_paper(), upload=upload, by=by)


def make_note(*, paper=None, author, **fields):
    from papers.models import PaperNote

    fields.setdefault("relevance", 3)
    fields.setdefault("summary", "Does a thing, faster.")
    return PaperNote.objects.create(paper=paper or make_paper(), author=author, **fields)


def make_question(*, question=None, **fields):
    from papers.models import ResearchQuestion

    return ResearchQuestion.objects.create(
        question=question or f"Question {next(_sequence)}?", **fields
    )


# --- experiments ---


def make_experiment(*, key=None, technique=None, **fields):
    from experiments.models import Experiment

    number = next(_sequence)
    return Experiment.objects.create(
        key=key or f"EXP-{number}",
        title=fields.pop("title", f"Experiment {number}"),
        technique=technique or make_technique(),
        **fields,
    )


def make_run(*, experiment=None, name=None, **fields):
    from experiments.models import Run

    number = next(_sequence)
    return Run.objects.create(
        experiment=experiment or make_experiment(), name=name or f"run-{number}", **fields
    )


def make_token(*, experiment=None, **fields):
    """An API token and its plaintext key: (token, key)."""
    from experiments.models import ApiToken

    return ApiToken.issue(experiment or make_experiment(), **fields)


def make_criterion(*, experiment=None, **fields):
    """A criterion; a metric one ("mean accuracy of candidate ≥ 0.8") unless told otherwise."""
    from experiments.models import Criterion

    if "metric" not in fields or fields["metric"]:
        fields.setdefault("metric", "accuracy")
        fields.setdefault("aggregation", "mean")
        fields.setdefault("comparator", "ge")
        fields.setdefault("threshold", 0.8)
    fields.setdefault("kind", "success")
    if fields["kind"] == "kill":
        fields.setdefault("severity", "hard")
    criterion = Criterion(experiment=experiment or make_experiment(), **fields)
    criterion.full_clean()
    criterion.save()
    return criterion


def report_run(*, experiment, variant="candidate", seed=None, values=None, points=None, **fields):
    """A finished run whose summary holds `values` ({metric: value}); `points` ({metric:
    [values per step]}) are logged through Run.log_points as the API does, before it finishes
    (a finished run takes no more points). Without `values` the run is still running."""
    from experiments.models import Run

    status = fields.pop("status", "finished" if values else "running")
    run = make_run(experiment=experiment, variant=variant, seed=seed, **fields)
    if points:
        rows = [
            {"key": key, "step": step, "value": value}
            for key, series in points.items()
            for step, value in enumerate(series)
        ]
        run.log_points(rows, idempotency_key=f"factory-{run.pk}")
    if status != "running" or values:
        Run.objects.filter(pk=run.pk).update(status=status, summary=values or {})
        run.refresh_from_db()
    return run


def give_supporting_evidence(experiment):
    """A met success criterion on a finished run of the experiment's current stage: what a
    YES at its gate needs to go through without an override."""
    make_criterion(experiment=experiment, threshold=0.5)
    return report_run(experiment=experiment, values={"accuracy": 0.9})


def give_only_baseline_evidence(experiment):
    """Two finished baseline runs and a killed candidate: runs with metrics, none that counts
    for a comparison."""
    for seed in (1, 2):
        report_run(experiment=experiment, variant="baseline", seed=seed, values={"accuracy": 0.9})
    report_run(experiment=experiment, seed=1, status="killed", points={"accuracy": [0.5, 0.5]})


def stored_points(runs=None, key=None):
    """Every point stored for `runs` (a run, a queryset of runs; None: all), of `key` if given,
    as StoredPoint tuples by run, key, bucket and seq: a series (no bucket) from its chunks,
    bucketed points from their rows; a missing value is NaN, a missing wall time None."""
    from experiments.models import MetricPoint, Run, SeriesChunk

    if runs is None:
        runs = Run.objects.all()
    run_ids = [runs.pk] if isinstance(runs, Run) else list(runs.values_list("pk", flat=True))
    chunks = SeriesChunk.objects.filter(run_id__in=run_ids)
    points = MetricPoint.objects.filter(run_id__in=run_ids)
    if key is not None:
        chunks, points = chunks.filter(key=key), points.filter(key=key)
    found = []
    for run_id, name in chunks.values_list("run_id", "key").distinct():
        series = SeriesChunk.points([run_id], name)[run_id]
        found.extend(
            StoredPoint(run_id, name, "", seq, step, value, None if wall != wall else wall)
            for seq, step, value, wall in zip(*(column.tolist() for column in series),
                                              strict=True)
        )  # fmt: skip
    found.extend(StoredPoint(*row) for row in points.values_list(
        "run_id", "key", "bucket", "seq", "step", "value", "wall_time"))  # fmt: skip
    return sorted(found, key=lambda point: point[:4])


StoredPoint = namedtuple("StoredPoint", "run_id key bucket seq step value wall_time")


def logged_series(run, metric):
    """[(step, value)] of every point `run` logged for `metric` (no stratum), by step."""
    points = [point for point in stored_points(run, metric) if point.bucket == ""]
    return [(point.step, point.value) for point in sorted(points, key=lambda p: (p.step, p.seq))]
