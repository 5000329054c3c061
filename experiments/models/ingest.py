"""What the ingest path (Run.log_points) shares: a batch's points as columns, and row inserts
and deletes past the ORM, whose per-object work costs more than the database's at a thousand
rows: PostgreSQL's COPY (several times faster than INSERT) and one executemany elsewhere."""

import math
from typing import NamedTuple

import numpy as np
from django.db import connection


class PointColumns(NamedTuple):
    """A batch's points (dicts with key, value, step, optional wall_time and bucket) as
    columns, read once for the digest and the summaries: keys and buckets ("" for none) as
    lists, steps int64, values and wall times float64 (NaN for a wall time not sent)."""

    keys: list
    buckets: list
    step: np.ndarray
    value: np.ndarray
    wall_time: np.ndarray

    @classmethod
    def of(cls, points):
        return cls(
            [point["key"] for point in points],
            [point.get("bucket") or "" for point in points],
            np.array([point["step"] for point in points], dtype=np.int64),
            np.array([point["value"] for point in points], dtype=np.float64),
            np.array([math.nan if (wall := point.get("wall_time")) is None else wall
                      for point in points], dtype=np.float64),
        )  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value):
    return value.translate(_COPY_ESCAPES)


def copy_float(value):
    """A float (or None) in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value - value == 0:  # finite; NaN arrives here as None
        return repr(value)
    return "Infinity" if value > 0 else "-Infinity"


def _copy_column(values):
    """One column's values in COPY's text format; formatted a column at a time, so that the
    type is looked at once per column rather than once per value."""
    kinds = {type(value) for value in values} - {type(None)}
    if kinds <= {int}:
        return ["\\N" if value is None else str(value) for value in values]
    if kinds <= {int, float}:
        return [copy_float(None if value is None else float(value)) for value in values]
    if kinds <= {bytes}:
        return ["\\N" if value is None else "\\\\x" + value.hex() for value in values]
    if kinds <= {str}:
        return ["\\N" if value is None else copy_text(value) for value in values]
    raise TypeError(f"no COPY format for {', '.join(sorted(kind.__name__ for kind in kinds))}")


def copy_into(model, columns, text):
    """COPY `text` (rows in COPY's text format, `columns` order) into model's table."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
            copy.write(text)


def insert_rows(model, columns, rows):
    """Insert tuples of plain values (str, int, float, None) in `columns` order."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        columns_text = [_copy_column(values) for values in zip(*rows, strict=True)]
        text = "".join("\t".join(row) + "\n" for row in zip(*columns_text, strict=True))
        copy_into(model, columns, text)
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def delete_rows(model, pks):
    """Delete rows by primary key, past the ORM's collector: nothing refers to these rows."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 1000):
            part = pks[start : start + 1000]
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(part))})", part
            )
