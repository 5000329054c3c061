"""One metric's curves as JSON, for the experiment page's charts (static/experiments/charts.js)."""

from django.contrib.auth.decorators import permission_required
from django.http import JsonResponse

from .. import curves
from .common import get_experiment_for_user


@permission_required("experiments.view_experiment", raise_exception=True)
def experiment_curves(request, pk):
    """?metric=NAME&width=PIXELS[&from=STEP&to=STEP]: each run's curve downsampled to about
    `width` points, over the zoomed window of steps when from and to are given.

    400 without a metric, with a width or steps that are not whole numbers (a width out of
    range is clamped) or from after to; 404 when no run of the experiment logged the metric.
    """
    experiment = get_experiment_for_user(request, pk)
    metric = request.GET.get("metric", "")
    try:
        width = curves.parse_width(request.GET.get("width"))
    except ValueError:
        return JsonResponse({"error": "width must be a whole number of pixels"}, status=400)
    try:
        window = curves.parse_window(request.GET.get("from"), request.GET.get("to"))
    except ValueError as invalid:
        return JsonResponse({"error": str(invalid)}, status=400)
    if not metric:
        return JsonResponse({"error": "name a metric: ?metric=NAME"}, status=400)
    data = curves.curve_data(experiment, metric, width, window)
    if data is None:
        return JsonResponse({"error": f"no run logged {metric!r}"}, status=404)
    return JsonResponse(data)
