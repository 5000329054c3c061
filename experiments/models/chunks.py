"""A packed copy of each logged series, so the drift comparison reads a run's whole history in
a few rows instead of a million.

Chunk i of a series (one run's un-bucketed points of one metric) holds the points of arrival
order (`seq`) i * CHUNK_SIZE onwards, up to CHUNK_SIZE of them, as two little-endian arrays:
int64 steps and float64 values (NaN for a missing value, infinities as they came). Reading a
point row by row costs SQLite and the database driver about half a microsecond a column; a
chunk is one row of two blobs, turned into arrays by np.frombuffer without a copy per point.

A full chunk is one row. The chunk being filled is kept as pieces, one row per batch that
reached it, each starting where the one before it ends; its pieces are merged into one row when
it fills or holds MAX_PIECES of them. So a batch writes its own points once, instead of reading
and rewriting the partly filled chunk (64 KiB on average at every batch), and a reader meets at
most MAX_PIECES rows more per series.

Chunks are written in the same transaction as the points (Run.log_points calls absorb() with
the rows it inserts), and a point's place is fixed by its seq, so folding the same rows in
twice leaves the chunks as they were. Readers still check the chunks' point count against the
series' MetricSummary count and read the points themselves for a series whose chunks do not add
up (points stored before chunks existed, or written around log_points): the copy can lag, never
be wrong. `backfill_series_chunks` rebuilds it.
"""

import numpy as np
from django.db import connection, models

from .ingest import delete_rows, insert_rows

# 8,192 points make a 128 KiB chunk: a million-point series is 123 rows.
CHUNK_SIZE = 8192
MAX_PIECES = 16
STEP_TYPE, VALUE_TYPE = np.dtype("<i8"), np.dtype("<f8")
COLUMNS = ("run_id", "key", "start", "count", "steps", "values")


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
    steps = models.BinaryField(help_text="int64 little-endian, one per point in seq order")
    values = models.BinaryField(help_text="float64 little-endian (NaN for a missing value)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "key", "start"], name="serieschunk_unique")
        ]

    def __str__(self):
        return f"{self.run_id} {self.key} @{self.start}"

    @classmethod
    def absorb(cls, series):
        """Fold the new points of `series` ({(run_id, key): (seq, step, value)} arrays in seq
        order, NaN where missing; as MetricSummary.absorb returns them) into the chunks.

        Called inside the transaction that inserts them, with the run locked. Points land at
        the position their seq gives, so a retried fold leaves the chunks as they were.
        """
        if not series:
            return
        touched = {}  # (run_id, key, chunk number): (seq, step, value) of its new points
        for owner, (seq, step, value) in series.items():
            number = seq // CHUNK_SIZE
            for chunk in np.unique(number).tolist():
                at = number == chunk
                touched[(*owner, chunk)] = (seq[at], step[at], value[at])
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
        for (run_id, key, chunk), (seq, step, value) in touched.items():
            stored = pieces.get((run_id, key, chunk), [])
            end = chunk * CHUNK_SIZE
            for _, start, count in stored:
                if start != end:
                    end = None  # a gap: see below
                    break
                end = start + count
            if end is None or seq[0] > end or np.any(np.diff(seq) != 1):
                # Points missing before these (a series older than chunks, not backfilled): no
                # chunk beats a wrong one, and readers fall back to the points.
                continue
            new = seq >= end  # points already in the chunk (a fold retried) stay as they are
            if not new.any():
                continue
            piece = (step[new], value[new])
            full = seq[-1] + 1 == (chunk + 1) * CHUNK_SIZE
            if stored and (full or len(stored) + 1 >= MAX_PIECES):
                merging.append(
                    (run_id, key, chunk * CHUNK_SIZE, [pk for pk, _, _ in stored], piece)
                )
            else:
                fresh.append((run_id, key, int(seq[new][0]), *piece))
        if merging:
            merged = [pk for *_, pks, _ in merging for pk in pks]
            blobs = {
                pk: _unpack(steps, values)
                for pk, steps, values in cls.objects.filter(pk__in=merged).values_list(
                    "pk", "steps", "values"
                )
            }
            for run_id, key, start, pks, (step, value) in merging:
                parts = [blobs[pk] for pk in pks]
                fresh.append((
                    run_id, key, start,
                    np.concatenate([*(part[0] for part in parts), step]),
                    np.concatenate([*(part[1] for part in parts), value]),
                ))  # fmt: skip
            delete_rows(cls, merged)
        insert_rows(cls, COLUMNS, [
            (run_id, key, start, len(step), step.tobytes(), value.tobytes())
            for run_id, key, start, step, value in fresh
        ])  # fmt: skip

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
    def arrays(cls, run_ids, key):
        """{run_id: (count, steps, values)} of `key`'s chunks for each run that has any, one
        query, arrays in seq order."""
        parts = {}
        chunks = (
            cls.objects.filter(run_id__in=run_ids, key=key)
            .order_by("run_id", "start")
            .values_list("run_id", "count", "steps", "values")
        )
        for run_id, count, steps, values in chunks:
            parts.setdefault(run_id, []).append((count, *_unpack(steps, values)))
        return {
            run_id: (
                sum(part[0] for part in found),
                np.concatenate([part[1] for part in found]),
                np.concatenate([part[2] for part in found]),
            )
            for run_id, found in parts.items()
        }


def _unpack(steps, values):
    # bytes on SQLite, memoryview on PostgreSQL: frombuffer reads either without copying.
    return np.frombuffer(steps, dtype=STEP_TYPE), np.frombuffer(values, dtype=VALUE_TYPE)


def pack(run_id, key, step, value, *, model=None):
    """SeriesChunks of one series' points (arrays in seq order from seq 0)."""
    model = model or SeriesChunk
    step, value = np.asarray(step, dtype=STEP_TYPE), np.asarray(value, dtype=VALUE_TYPE)
    chunks = []
    for start in range(0, len(step), CHUNK_SIZE):
        steps, values = step[start : start + CHUNK_SIZE], value[start : start + CHUNK_SIZE]
        chunks.append(model(run_id=run_id, key=key, start=start, count=len(steps),
                            steps=steps.tobytes(), values=values.tobytes()))  # fmt: skip
    return chunks


def backfill(chunk_model, summary_model, point_model, *, runs=None):
    """Rebuild the chunks of every logged series (of `runs`, if given) from its points.

    Takes the models as arguments so that the migration can pass its historical ones.
    Returns how many series were rebuilt.
    """
    summaries = summary_model.objects.filter(bucket="", count__gt=0)
    if runs is not None:
        summaries = summaries.filter(run__in=runs)
    rebuilt = 0
    for run_id, key in summaries.values_list("run_id", "key").order_by("run_id", "key"):
        points = point_model.objects.filter(run_id=run_id, key=key, bucket="").order_by("seq")
        rows = list(points.values_list("step", "value").iterator(chunk_size=CHUNK_SIZE))
        step = np.array([row[0] for row in rows], dtype=STEP_TYPE)
        value = np.array([np.nan if row[1] is None else row[1] for row in rows], dtype=VALUE_TYPE)
        chunk_model.objects.filter(run_id=run_id, key=key).delete()
        chunk_model.objects.bulk_create(pack(run_id, key, step, value, model=chunk_model),
                                        batch_size=200)  # fmt: skip
        rebuilt += 1
    return rebuilt
