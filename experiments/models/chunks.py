"""A packed copy of each logged series, so the drift comparison reads a run's whole history in
a few rows instead of a million.

Chunk i of a series (one run's un-bucketed points of one metric) holds the points of arrival
order (`seq`) i * CHUNK_SIZE onwards, up to CHUNK_SIZE of them, as two little-endian arrays:
int64 steps and float64 values (NaN for a missing value, infinities as they came). Reading a
point row by row costs SQLite and the database driver about half a microsecond a column; a
chunk is one row of two blobs, turned into arrays by np.frombuffer without a copy per point.

Chunks are written in the same transaction as the points (Run.log_points calls absorb() with
the rows it inserts), and a point's place in its chunk is fixed by its seq, so folding the same
rows in twice writes them over themselves rather than after. Readers still check the chunks'
point count against the series' MetricSummary count and read the points themselves for a
series whose chunks do not add up (points stored before chunks existed, or written around
log_points): the copy can lag, never be wrong. `backfill_series_chunks` rebuilds it.
"""

import numpy as np
from django.db import models

# 8,192 points make a 128 KiB chunk: a million-point series is 123 rows, and a batch appended
# to a series rewrites at most one partly filled chunk (64 KiB on average) besides its own.
CHUNK_SIZE = 8192
STEP_TYPE, VALUE_TYPE = np.dtype("<i8"), np.dtype("<f8")


class SeriesChunk(models.Model):
    """Up to CHUNK_SIZE consecutive points (by seq) of one run's metric, packed."""

    run = models.ForeignKey("experiments.Run", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    index = models.BigIntegerField(help_text="seq // CHUNK_SIZE")
    count = models.PositiveIntegerField()
    steps = models.BinaryField(help_text="int64 little-endian, one per point in seq order")
    values = models.BinaryField(help_text="float64 little-endian (NaN for a missing value)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "key", "index"], name="serieschunk_unique")
        ]

    def __str__(self):
        return f"{self.run_id} {self.key} #{self.index}"

    @classmethod
    def absorb(cls, rows):
        """Fold freshly inserted MetricPoint rows (COLUMNS tuples) into the chunks.

        Called inside the transaction that inserts them, with the run locked. Rows land at the
        position their seq gives, so a retried fold leaves the chunks as they were.
        """
        series = {}
        for run_id, key, bucket, step, value, _, seq in rows:
            if bucket == "":
                series.setdefault((run_id, key), []).append((seq, step, value))
        if not series:
            return
        touched = {}
        for owner, points in series.items():
            points.sort()
            seq = np.array([point[0] for point in points], dtype=np.int64)
            step = np.array([point[1] for point in points], dtype=STEP_TYPE)
            value = np.array([point[2] for point in points], dtype=VALUE_TYPE)  # None is NaN
            index = seq // CHUNK_SIZE
            for chunk in np.unique(index).tolist():
                at = index == chunk
                touched[(*owner, chunk)] = (seq[at] - chunk * CHUNK_SIZE, step[at], value[at])
        # One query for every chunk the batch reaches (a batch may bring thousands of names).
        stored = {
            (run_id, key, index): (pk, count, steps, values)
            for pk, run_id, key, index, count, steps, values in cls.objects.filter(
                run_id__in={run_id for run_id, _ in series},
                key__in={key for _, key in series},
                index__in={index for _, _, index in touched},
            ).values_list("pk", "run_id", "key", "index", "count", "steps", "values")
            if (run_id, key, index) in touched
        }
        fresh, replaced = [], []
        for (run_id, key, index), (position, step, value) in touched.items():
            pk, count, steps, values = stored.get((run_id, key, index), (None, 0, b"", b""))
            steps, values = _unpack(steps, values)
            if position[0] > count or np.any(np.diff(position) != 1):
                # Points missing before these (a series older than chunks, not backfilled): no
                # chunk beats a wrong one, and readers fall back to the points.
                continue
            start, end = int(position[0]), int(position[-1]) + 1
            steps = np.concatenate([steps[:start], step, steps[end:]])
            values = np.concatenate([values[:start], value, values[end:]])
            if pk is not None:
                replaced.append(pk)
            fresh.append(cls(run_id=run_id, key=key, index=index, count=len(steps),
                             steps=steps.tobytes(), values=values.tobytes()))  # fmt: skip
        if replaced:
            cls.objects.filter(pk__in=replaced).delete()
        cls.objects.bulk_create(fresh, batch_size=200)

    @classmethod
    def arrays(cls, run_ids, key):
        """{run_id: (count, steps, values)} of `key`'s chunks for each run that has any, one
        query, arrays in seq order."""
        parts = {}
        chunks = (
            cls.objects.filter(run_id__in=run_ids, key=key)
            .order_by("run_id", "index")
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
        chunks.append(model(run_id=run_id, key=key, index=start // CHUNK_SIZE, count=len(steps),
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
