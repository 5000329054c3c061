"""The drift comparison page: runs on other hardware or precision against a reference run."""

import json

from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse

from .. import drift
from .common import get_experiment_for_user

PAGE = "experiments/drift.html"
# The metric the chart shows first when none is asked for: the training loss, usually.
CHART_HINTS = ("loss", "perplexity", "accuracy")


@permission_required("experiments.view_experiment", raise_exception=True)
def experiment_drift(request, pk):
    """?reference=RUN&runs=RUN&runs=RUN&metric=M&abs_tol=&rel_tol=&last=: the runs against
    the reference, per metric and step. Without a choice the page proposes one: a run with a
    same-setup run on another platform. 400 with the reason for bad parameters."""
    experiment = get_experiment_for_user(request, pk)
    runs = list(experiment.runs.all())
    context = {"experiment": experiment, "runs": runs, "error": None, "report": None}
    if len(runs) < 2:
        return TemplateResponse(request, PAGE, context)
    params = request.GET
    try:
        reference, compared = _choice(params, runs)
        tolerance = drift.Tolerance.parse(params.get("abs_tol"), params.get("rel_tol"))
        last = int(params["last"]) if params.get("last") else None
        if last is not None and not 0 < last < 2**31:
            raise ValueError("last is a number of steps from 1")
    except ValueError as invalid:
        context["error"] = str(invalid) if str(invalid) else "bad parameters"
        return TemplateResponse(request, PAGE, context, status=400)
    by_id = {run.pk: run for run in runs}
    reference_run = by_id.get(reference)
    context.update(
        reference=reference_run,
        candidates=[
            (run, same, other, run.pk in compared)
            for run, same, other in drift.candidates(reference_run, runs)
        ]
        if reference_run
        else [],
        tolerance=tolerance,
        abs_tol=params.get("abs_tol", ""),
        rel_tol=params.get("rel_tol", ""),
        last=params.get("last", ""),
        log=params.get("log") == "1",
    )
    try:
        report = drift.report(
            experiment, reference=reference, runs=compared, tolerance=tolerance, last=last
        )
    except drift.DriftRequest as invalid:
        context["error"] = str(invalid)
        return TemplateResponse(request, PAGE, context, status=400)
    metric = params.get("metric")
    if metric not in report["metrics"]:
        metric = next(
            (m for hint in CHART_HINTS for m in report["metrics"] if hint in m.lower()),
            report["metrics"][0] if report["metrics"] else None,
        )
    names = {run.pk: run for run in runs}
    rows = [{**row, "run": names[row["run"]]} for row in report["comparisons"]]
    chart_rows = [row for row in report["comparisons"] if row["metric"] == metric]
    context.update(
        report=report,
        rows=rows,
        metric=metric,
        chart_json=json.dumps(
            {
                "metric": metric,
                "reference": reference_run.name,
                "tolerance": report["tolerance"],
                "series": [
                    {
                        "name": names[row["run"]].name,
                        "platform": names[row["run"]].platform,
                        "first_divergent_step": row["first_divergent_step"],
                        **row["chart"],
                    }
                    for row in chart_rows
                ],
            }  # fmt: skip
        )
        if chart_rows
        else None,
    )
    return TemplateResponse(request, PAGE, context)


def _choice(params, runs):
    """(reference id, [compared ids]) from the query, or the page's proposal without one."""
    try:
        reference = int(params["reference"]) if params.get("reference") else None
        compared = [int(value) for value in params.getlist("runs") if value]
    except ValueError:
        raise ValueError("reference and runs are run ids (whole numbers)") from None
    # Beyond a database integer no run has that id, and SQLite would overflow asking.
    if any(not 0 < run_id < 2**63 for run_id in [reference or 1, *compared]):
        raise ValueError("reference and runs are run ids (whole numbers from 1)")
    if reference is None:
        reference = _proposed_reference(runs)
    if not compared:
        by_id = {run.pk: run for run in runs}
        if reference in by_id:
            seed = by_id[reference].seed
            proposed = drift.candidates(by_id[reference], runs)
            matching = [run for run, same, other in proposed if same and other]
            # The same seed elsewhere first: another seed differs from the first step anyway.
            compared = (
                [run.pk for run in matching if run.seed == seed]
                or [run.pk for run in matching]
                or [proposed[0][0].pk]
            )
    return reference, compared


def _proposed_reference(runs):
    """The first run that has a same-setup run on another platform, else the first run."""
    for run in runs:
        if any(same and other for _, same, other in drift.candidates(run, runs)):
            return run.pk
    return runs[0].pk
