"""What the ingest path (Run.log_points) shares: a batch's points as columns, and row inserts
and deletes past the ORM, whose per-object work costs more than the database's at a thousand
rows: PostgreSQL's COPY (several times faster than INSERT) and one executemany elsewhere."""

import functools
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


@functools.cache
def _copy_types(model, columns):
    """PostgreSQL's type of each column (a tuple of names), as binary COPY must be told."""
    types = []
    for name in columns:
        kind = model._meta.get_field(name).db_type(connection)
        types.append("text" if kind.startswith("varchar") else kind)
    return types


def insert_rows(model, columns, rows):
    """Insert tuples of plain values (str, int, float, bytes, None) in `columns` order."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    if connection.vendor == "postgresql":
        # Binary COPY: psycopg writes each row in C, with no text to format or parse.
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_copy_types(model, tuple(columns)))
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def delete_rows(model, pks):
    """Delete rows by primary key, past the ORM's collector: nothing refers to these rows."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 1000):
            part = pks[start : start + 1000]
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(part))})", part
            )
