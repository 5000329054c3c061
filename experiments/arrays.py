"""Numeric helpers the charts, the drift comparison and the criteria share: rows read straight
into numpy, downsampling that keeps a line's shape, and floats made JSON-safe. Nothing here
imports a model, so the models modules can use it at their top."""

import math

import numpy as np
from django.db import connection
from tsdownsample import MinMaxLTTBDownsampler


def fetch_array(queryset):
    """The rows as a float array (NULL as NaN), past the ORM's per-row conversion: at tens of
    thousands of rows that conversion would cost more than the whole rest of the chart."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        columns = len(cursor.description)
    return np.array(rows, dtype=np.float64).reshape(len(rows), columns)


def kept_indices(steps, values, width):
    """Indices of about `width` of the points (steps sorted, values finite) that keep a line's
    shape: MinMaxLTTB's choice, and always the lowest and the highest point."""
    if len(steps) <= width:
        return np.arange(len(steps))
    # tsdownsample takes contiguous arrays only (a column of rows is a strided view).
    steps, values = np.ascontiguousarray(steps), np.ascontiguousarray(values)
    keep = MinMaxLTTBDownsampler().downsample(steps, values, n_out=width).astype(np.int64)
    return np.union1d(keep, [np.argmin(values), np.argmax(values)])


def json_floats(values):
    """A float array as a list, NaN and infinities as None (JSON null)."""
    return [value if math.isfinite(value) else None for value in values.tolist()]
