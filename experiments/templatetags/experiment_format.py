"""Number formatting for evidence tables: p-values and measurements read at a glance."""

import math

from django import template

register = template.Library()


@register.filter
def pvalue(value):
    """'< 0.0001' for tiny p-values, three significant digits otherwise, '—' when untested."""
    if value is None or value == "":
        return "—"
    if value < 0.0001:
        return "< 0.0001"
    return f"{value:.3g}"


@register.filter
def measure(value, digits=4):
    """A measurement to `digits` significant digits; NaN and Inf spelled out; '—' for None."""
    if value is None or value == "":
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)  # a run's summary may hold a label rather than a number
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{int(digits)}g}"
