"""Where a run's un-bucketed points of a metric (a series) are stored: packed, in chunks.

Chunk i of a series holds the points of arrival order (`seq`) i * CHUNK_SIZE onwards, up to
CHUNK_SIZE of them, as three little-endian arrays: int64 steps, float64 values (NaN for a
missing value, infinities as they came) and float64 wall times (NaN where none was sent),
with the chunk's lowest and highest step beside them so that a zoomed read skips the chunks
outside its window. A row per point cost a batch of 1,000 points more than everything else
it does (the row, two indexes, the text of each value), and reading a million of them back
cost SQLite and the driver about half a microsecond a column; a chunk is one row of three
blobs, written as one row of a binary COPY and read by np.frombuffer without a copy per point.
Bucketed points (a few per evaluation, read by bucket) stay rows: MetricPoint.

A full chunk is one row. The chunk being filled is kept as pieces, one row per batch that
reached it, each starting where the one before it ends; its pieces are merged into one row
when it fills or holds MAX_PIECES of them. So a batch writes its own points once, instead of
reading and rewriting the partly filled chunk (64 KiB on average at every batch), and a
reader meets at most MAX_PIECES rows more per series.

Chunks are written in the transaction that records the batch (Run.log_points), with the run
locked, and a point's place is fixed by its seq, so folding the same points in twice leaves
the chunks as they were. MetricSummary.count is the series' length: the chunks of a series
always hold exactly its points 0 .. count - 1.
"""

from collections import namedtuple

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from psycopg import Cursor, pq

from .ingest import delete_rows, insert_rows

# 8,192 points make a 192 KiB chunk: a million-point series is 123 rows.
CHUNK_SIZE = 8192
MAX_PIECES = 16
STEP_TYPE, VALUE_TYPE = np.dtype("<i8"), np.dtype("<f8")
COLUMNS = ("run_id", "key", "start", "count", "step_min", "step_max", "steps", "values",
           "wall_times")  # fmt: skip

# The most parameters one PostgreSQL statement can bind on the server (a 16-bit count).
BOUND_PARAMETERS_MAX = 65535
# One series' points in seq order, as arrays; seq is the arrival order from 0.
Points = namedtuple("Points", "seq step value wall_time")
# A series with no points: what a comparison meets for a run that logged none of a metric.
NO_SERIES = (np.arange(0, dtype=np.int64), np.arange(0, dtype=np.float64))


class SeriesChunk(models.Model):
    """Consecutive points (by seq) of one run's metric, packed: a whole chunk, or a piece of
    the one being filled. Never reaches past the end of its chunk."""

    # Not indexed nor constrained on its own: see MetricPoint.run.
    run = models.ForeignKey(
        "experiments.Run", on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    key = models.CharField(max_length=100)
    start = models.BigIntegerField(help_text="seq of its first point")
    count = models.PositiveIntegerField()
    step_min = models.BigIntegerField()
    step_max = models.BigIntegerField()
    steps = models.BinaryField(help_text="int64 little-endian, one per point in seq order")
    values = models.BinaryField(help_text="float64 little-endian (NaN for a missing value)")
    wall_times = models.BinaryField(help_text="float64 little-endian Unix seconds (NaN: none)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "key", "start"], name="serieschunk_unique")
        ]

    def __str__(self):
        return f"{self.run_id} {self.key} @{self.start}"

    @classmethod
    def absorb(cls, series):
        """Store the new points of `series` ({(run_id, key): Points} in seq order, continuing
        where the series' stored points end; as MetricSummary.absorb returns them).

        Called inside the transaction that records the batch, with the run locked. Points land
        at the position their seq gives, so a retried fold leaves the chunks as they were.
        """
        if not series:
            return
        touched = {}  # (run_id, key, chunk number): Points of the chunk's new points
        for owner, points in series.items():
            number = points.seq // CHUNK_SIZE
            if number[0] == number[-1]:  # the usual batch: one chunk
                touched[(*owner, int(number[0]))] = points
                continue
            for chunk in np.unique(number).tolist():
                at = number == chunk
                touched[(*owner, chunk)] = Points(*(column[at] for column in points))
        # The rows already in the chunks the batch reaches, one query without their blobs (a
        # batch may bring thousands of names).
        chunk_numbers = [chunk for _, _, chunk in touched]
        pieces = {}
        for pk, run_id, key, start, count in cls.stored(
            {run_id for run_id, _ in series},
            {key for _, key in series},
            min(chunk_numbers) * CHUNK_SIZE,
            (max(chunk_numbers) + 1) * CHUNK_SIZE,
        ):
            pieces.setdefault((run_id, key, start // CHUNK_SIZE), []).append((pk, start, count))
        fresh, merging = [], []
        for (run_id, key, chunk), points in touched.items():
            stored = pieces.get((run_id, key, chunk), [])
            end = chunk * CHUNK_SIZE
            for _, start, count in stored:
                if start != end:
                    raise ValueError(f"run {run_id} {key!r}: chunk rows overlap at seq {start}")
                end = start + count
            if points.seq[0] > end:
                raise ValueError(
                    f"run {run_id} {key!r}: points from seq {points.seq[0]}, stored up to {end}"
                )
            new = points.seq >= end  # points already in the chunk (a fold retried) stay
            if not new.any():
                continue
            if not new.all():
                points = Points(*(column[new] for column in points))
            full = points.seq[-1] + 1 == (chunk + 1) * CHUNK_SIZE
            if stored and (full or len(stored) + 1 >= MAX_PIECES):
                merging.append((run_id, key, chunk * CHUNK_SIZE, [pk for pk, _, _ in stored],
                                points))  # fmt: skip
            else:
                fresh.append((run_id, key, int(points.seq[0]), points))
        if merging:
            merged = [pk for *_, pks, _ in merging for pk in pks]
            blobs = {
                pk: _unpack(steps, values, wall_times)
                for pk, steps, values, wall_times in _blob_rows(
                    cls.objects.filter(pk__in=merged), "pk", "steps", "values", "wall_times"
                )
            }
            for run_id, key, start, pks, points in merging:
                parts = [blobs[pk] for pk in pks]
                joined = [np.concatenate([*(part[i] for part in parts), points[i + 1]])
                          for i in range(3)]  # fmt: skip
                fresh.append((run_id, key, start, Points(None, *joined)))
            delete_rows(cls, merged)
        insert_rows(cls, COLUMNS, [_row(run_id, key, start, points)
                                   for run_id, key, start, points in fresh])  # fmt: skip

    @classmethod
    def stored(cls, run_ids, keys, first, end):
        """(pk, run_id, key, start, count) of the rows of these runs and keys starting at seq
        `first` up to `end`, by start; their blobs stay in the database."""
        quote = connection.ops.quote_name
        run_ids, keys = list(run_ids), list(keys)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, run_id, {quote('key')}, start, {quote('count')} "
                f"FROM {quote(cls._meta.db_table)} "
                f"WHERE run_id IN ({', '.join(['%s'] * len(run_ids))}) "
                f"AND {quote('key')} IN ({', '.join(['%s'] * len(keys))}) "
                "AND start >= %s AND start < %s ORDER BY start",
                [*run_ids, *keys, first, end],
            )
            return cursor.fetchall()

    @classmethod
    def points(cls, run_ids, key, *, steps=None, seq_from=0, seq_to=None):
        """{run_id: Points} of `key` for each run that logged any, one query.

        `steps` (first, last) keeps only the points in that window of steps, and reads only
        the chunks that reach into it; `seq_from` and `seq_to` (excluded) keep a range of
        arrival order, e.g. a page of the history.
        """
        chunks = cls.objects.filter(run_id__in=list(run_ids), key=key)
        if steps is not None:
            chunks = chunks.filter(step_max__gte=steps[0], step_min__lte=steps[1])
        if seq_from:
            chunks = chunks.filter(start__gt=seq_from - CHUNK_SIZE)
        if seq_to is not None:
            chunks = chunks.filter(start__lt=seq_to)
        parts = {}
        for run_id, start, count, *blobs in _blob_rows(
            chunks.order_by("run_id", "start"),
            "run_id", "start", "count", "steps", "values", "wall_times",
        ):  # fmt: skip
            parts.setdefault(run_id, []).append(
                (np.arange(start, start + count, dtype=np.int64), *_unpack(*blobs))
            )
        found = {}
        for run_id, part in parts.items():
            points = Points(*(np.concatenate([p[i] for p in part]) for i in range(4)))
            keep = points.seq >= seq_from
            if seq_to is not None:
                keep &= points.seq < seq_to
            if steps is not None:
                keep &= (points.step >= steps[0]) & (points.step <= steps[1])
            if not keep.all():
                points = Points(*(column[keep] for column in points))
            if len(points.seq):
                found[run_id] = points
        return found

    @classmethod
    def series(cls, run_ids, key):
        """{run_id: (steps, values)}: each run's points of `key`, one value per step (the
        later of a step logged twice), steps ascending; runs without any are left out. One
        query for any number of runs and points. Only the steps and values are read: at a
        million points a run the wall times would be a third more bytes to fetch and copy."""
        parts = {}
        chunks = cls.objects.filter(run_id__in=list(dict.fromkeys(run_ids)), key=key)
        for run_id, steps, values in _blob_rows(
            chunks.order_by("run_id", "start"), "run_id", "steps", "values"
        ):
            parts.setdefault(run_id, []).append(
                (np.frombuffer(steps, dtype=STEP_TYPE), np.frombuffer(values, dtype=VALUE_TYPE))
            )
        return {
            run_id: one_value_per_step(
                np.concatenate([steps for steps, _ in part]),
                np.concatenate([values for _, values in part]),
            )
            for run_id, part in parts.items()
        }


def _blob_rows(chunks, *fields):
    """chunks.values_list(*fields) as a list of tuples, fetched in PostgreSQL's binary format
    there. Django's cursors bind parameters on the client, which makes results come as text,
    where a bytea is hex: five runs of a million points are 80 MB of blobs sent as 160 MB of
    text and decoded again (385 ms; 156 ms in binary, measured on bench/experiment_page.py's
    database). Only ints and blobs are read, which need no converters."""
    rows = chunks.values_list(*fields)
    if connection.vendor != "postgresql":
        return list(rows)
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # e.g. no runs, or a step past int64: what list(rows) gives
        return []
    if len(params) > BOUND_PARAMETERS_MAX:
        return list(rows)  # bound on the server, as binary results need: its protocol's limit
    # What connection.cursor() does first.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    binary = Cursor(connection.connection)
    binary.format = pq.Format.BINARY
    # Django's wrappers, as connection.cursor() gives: its query count and error translation
    # (the logged SQL shows $1, $2 ... where client-side binding would show the values).
    make = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with make(binary) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def one_value_per_step(steps, values):
    """(steps ascending, the value logged last for each) from points in arrival order."""
    if not len(steps) or np.all(steps[1:] > steps[:-1]):
        return steps, values  # the usual case, each step once and in order: nothing to do
    # Reversed, np.unique's first occurrence is the last point logged for each step.
    unique, first = np.unique(steps[::-1], return_index=True)
    return unique, values[::-1][first]


def _row(run_id, key, start, points):
    step = points.step
    return (run_id, key, start, len(step), int(step.min()), int(step.max()), step.tobytes(),
            points.value.tobytes(), points.wall_time.tobytes())  # fmt: skip


def _unpack(steps, values, wall_times):
    # bytes on SQLite, memoryview on PostgreSQL: frombuffer reads either without copying.
    return (np.frombuffer(steps, dtype=STEP_TYPE), np.frombuffer(values, dtype=VALUE_TYPE),
            np.frombuffer(wall_times, dtype=VALUE_TYPE))  # fmt: skip


def pack(run_id, key, step, value, wall_time=None, *, model=None):
    """SeriesChunks of one series' points (arrays in seq order from seq 0)."""
    model = model or SeriesChunk
    step, value = np.asarray(step, dtype=STEP_TYPE), np.asarray(value, dtype=VALUE_TYPE)
    wall_time = (np.full(len(step), np.nan) if wall_time is None
                 else np.asarray(wall_time, dtype=VALUE_TYPE))  # fmt: skip
    chunks = []
    for start in range(0, len(step), CHUNK_SIZE):
        part = Points(None, *(column[start : start + CHUNK_SIZE]
                              for column in (step, value, wall_time)))  # fmt: skip
        chunks.append(model(**dict(zip(COLUMNS, _row(run_id, key, start, part), strict=True))))
    return chunks
