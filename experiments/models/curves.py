"""Multi-resolution summaries of metric curves, so a chart never reads a run's whole history.

Level l cuts a series (one run's un-bucketed points of one metric, in arrival order `seq`)
into tiles of TILE_SIZES[l] consecutive points; each tile keeps its step range, its first,
last, lowest and highest finite values with their steps, the sum and count of its finite
values, and the step of its first NaN/infinity. A chart of `width` pixels reads the coarsest
level with at least about width / 2 tiles per run (so up to 4 points per tile, at least 2x
width in all) and downsamples those to `width` points (experiments/curves.py).

Tiles are written in the same transaction as the points (Run.log_points calls absorb() with
the points it stores), so they can never disagree with them; `backfill_curve_tiles` rebuilds
them from the points.
"""

import numpy as np
from django.db import connection, models

from .chunks import SeriesChunk
from .ingest import insert_rows

# Power-of-4 levels from 32 points per tile: 8 levels reach 2**21 points per tile, so even a
# series of a billion points has under 500 tiles at its coarsest level. No finer level: a
# series short enough to need one is read from its chunks, and each level costs every batch
# its share of tile rows (a level of 8 points would be three quarters of them).
TILE_SIZES = tuple(8 * 4**level for level in range(1, 9))


class CurveTileQuerySet(models.QuerySet):
    def for_chart(self, levels, key, steps=None):
        """Tiles of one metric for {run_id: level}, one query, ordered by run and arrival;
        with `steps` (first, last), only those that reach into that window."""
        by_level = {}
        for run_id, level in levels.items():
            by_level.setdefault(level, []).append(run_id)
        condition = models.Q()
        for level, run_ids in by_level.items():
            condition |= models.Q(level=level, run_id__in=run_ids)
        tiles = self.filter(condition, key=key)
        if steps is not None:
            tiles = tiles.filter(step_max__gte=steps[0], step_min__lte=steps[1])
        return tiles.order_by("run_id", "index")


class CurveTile(models.Model):
    """TILE_SIZES[level] consecutive points (by seq) of one run's metric, summarised."""

    # Not indexed nor constrained on its own: see MetricPoint.run.
    run = models.ForeignKey(
        "experiments.Run", on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    key = models.CharField(max_length=100)
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField(help_text="seq // TILE_SIZES[level]")
    count = models.PositiveIntegerField()
    finite = models.PositiveIntegerField(help_text="How many of the values are finite")
    total = models.FloatField(help_text="Sum of the finite values")
    step_min = models.BigIntegerField()
    step_max = models.BigIntegerField()
    # The finite values that shape a drawn line; all null when none is finite.
    first_step = models.BigIntegerField(null=True)
    first_value = models.FloatField(null=True)
    min_step = models.BigIntegerField(null=True)
    min_value = models.FloatField(null=True)
    max_step = models.BigIntegerField(null=True)
    max_value = models.FloatField(null=True)
    last_step = models.BigIntegerField(null=True)
    last_value = models.FloatField(null=True)
    gap_step = models.BigIntegerField(null=True, help_text="Step of the first NaN or infinity")

    objects = CurveTileQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "key", "level", "index"], name="curvetile_unique_tile"
            )
        ]

    def __str__(self):
        return f"{self.run_id} {self.key} L{self.level}#{self.index}"

    SUMMARY_FIELDS = (
        "count", "finite", "total", "step_min", "step_max", "first_step", "first_value",
        "min_step", "min_value", "max_step", "max_value", "last_step", "last_value", "gap_step",
    )  # fmt: skip

    @classmethod
    def absorb(cls, series):
        """Fold the new points of `series` ({(run_id, key): (seq, step, value)} arrays in seq
        order, NaN where missing; as MetricSummary.absorb returns them) into the tiles.

        Called inside the transaction that inserts them, with the run locked; each series'
        points continue where its stored ones end.
        """
        if not series:
            return
        # Series one after the other, each in seq order: their tiles are contiguous groups.
        owners = list(series)
        parts = list(series.values())
        owner = np.repeat(np.arange(len(owners)), [len(part[0]) for part in parts])
        seq, step, value = (np.concatenate([part[i] for part in parts]) for i in range(3))
        # Appending can only extend, at each level, the tile holding the first new point, and
        # only when that point is not the first of its tile.
        firsts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        partial = [
            (*owners[o], level, s // size)
            for o, s in zip(owner[firsts].tolist(), seq[firsts].tolist(), strict=True)
            for level, size in enumerate(TILE_SIZES)
            if s % size
        ]
        # Each stored tile among them is rewritten with the new points merged in.
        earlier = {tile[:4]: dict(zip(ROW_FIELDS, tile, strict=True))
                   for tile in cls.take(partial)}  # fmt: skip
        fresh = []
        for row in tile_rows(owners, owner, seq, step, value):
            stored = earlier.get(row[:4])
            if stored:
                merged = merge(stored, dict(zip(ROW_FIELDS, row, strict=True)))
                row = tuple(merged[name] for name in ROW_FIELDS)
            fresh.append(row)
        cls.insert_rows(fresh)

    @classmethod
    def take(cls, wanted):
        """Delete the stored tiles among `wanted` (run_id, key, level, index) tuples and
        return them as ROW_FIELDS tuples: one statement, not a read and a delete. Each is a
        lookup on the unique index per tile, on both backends; an OR of conditions per level
        would scan every tile of the run."""
        quote = connection.ops.quote_name
        table = quote(cls._meta.db_table)
        columns = ", ".join(quote(cls._meta.get_field(name).column) for name in ROW_FIELDS)
        found = []
        with connection.cursor() as cursor:
            for start in range(0, len(wanted), 2000):  # SQLite allows 32,766 parameters
                part = wanted[start : start + 2000]
                keys = ", ".join(["(%s, %s, %s, %s)"] * len(part))
                cursor.execute(
                    f"WITH wanted (run_id, key, level, idx) AS (VALUES {keys}) "
                    f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM wanted JOIN {table} t "
                    "ON t.run_id = wanted.run_id AND t.key = wanted.key "
                    f"AND t.level = wanted.level AND t.{quote('index')} = wanted.idx) "
                    f"RETURNING {columns}",
                    [value for tile in part for value in tile],
                )
                found.extend(cursor.fetchall())
        return found

    @classmethod
    def insert_rows(cls, rows):
        """Insert tuples in ROW_FIELDS order (a batch of many metric names makes thousands)."""
        insert_rows(cls, ROW_FIELDS, rows)


ROW_FIELDS = ("run_id", "key", "level", "index", *CurveTile.SUMMARY_FIELDS)


def summarise(run_id, key, seq, step, value, *, model=None):
    """CurveTiles of one series' consecutive points (arrays by seq; NaN for missing values)."""
    model = model or CurveTile
    owner = np.zeros(len(seq), dtype=np.int64)
    return [model(**dict(zip(ROW_FIELDS, row, strict=True))) for row in tile_rows(
        [(run_id, key)], owner, seq, step, value)]  # fmt: skip


def tile_rows(owners, owner, seq, step, value):
    """Tiles as tuples in ROW_FIELDS order, for points of series owners[owner] (arrays sorted
    by owner, then seq; NaN for missing values)."""
    # Every level at once: the points repeated once per level, level after level, so that
    # each (level, series, tile) is a contiguous run and one reduceat per column serves all
    # levels (a batch paid numpy's per-call cost eight times over otherwise).
    count, levels = len(seq), len(TILE_SIZES)
    level = np.repeat(np.arange(levels), count)
    owner = np.tile(owner, levels)
    index = np.tile(seq, levels) // np.repeat(np.array(TILE_SIZES, dtype=np.int64), count)
    step, value = np.tile(step, levels), np.tile(value, levels)
    finite = np.isfinite(value)
    change = np.empty(len(index), dtype=bool)
    change[0] = True
    change[1:] = (index[1:] != index[:-1]) | (owner[1:] != owner[:-1]) | (level[1:] != level[:-1])
    starts = np.flatnonzero(change)
    counts = np.diff(np.r_[starts, len(index)])
    slots = len(starts)
    slot = np.repeat(np.arange(slots), counts)
    low = np.minimum.reduceat(np.where(finite, value, np.inf), starts)
    high = np.maximum.reduceat(np.where(finite, value, -np.inf), starts)
    corners = [
        _first_where(slot, finite, slots),
        _first_where(slot, finite & (value == low[slot]), slots),
        _first_where(slot, finite & (value == high[slot]), slots),
        _first_where(slot[::-1], finite[::-1], slots, reverse=True),
    ]
    columns = [
        [owners[o] for o in owner[starts].tolist()],
        level[starts].tolist(),
        index[starts].tolist(),
        counts.tolist(),
        np.add.reduceat(finite, starts).tolist(),
        np.add.reduceat(np.where(finite, value, 0.0), starts).tolist(),
        np.minimum.reduceat(step, starts).tolist(),
        np.maximum.reduceat(step, starts).tolist(),
    ]
    for where in corners:
        columns.append(_pick(step, where))
        columns.append(_pick(value, where))
    columns.append(_pick(step, _first_where(slot, ~finite, slots)))
    for (run_id, key), *row in zip(*columns, strict=True):
        yield (run_id, key, *row)


def _first_where(slot, mask, slots, reverse=False):
    """Per slot, the position of its first point where mask holds (last with reverse), or -1."""
    found = np.full(slots, -1)
    positions = np.flatnonzero(mask)
    if not len(positions):
        return found
    # A slot's points are contiguous: its first is where the slot number changes.
    picked = slot[positions]
    where = np.flatnonzero(np.r_[True, picked[1:] != picked[:-1]])
    chosen = picked[where]
    found[chosen] = positions[where]
    if reverse:
        found[chosen] = len(slot) - 1 - found[chosen]
    return found


def _pick(array, positions):
    """array[position] per slot as Python numbers, None where the position is -1."""
    picked = array[np.maximum(positions, 0)].tolist()
    return [
        None if position < 0 else item
        for item, position in zip(picked, positions.tolist(), strict=True)
    ]


def merge(earlier, later):
    """One tile (a ROW_FIELDS dict) from a stored tile and the summary of the points that
    followed it (dicts alike)."""
    first = earlier if earlier["first_step"] is not None else later
    last = later if later["last_step"] is not None else earlier
    # Ties keep the earlier point, as tile_rows() does within a tile.
    low = (
        earlier if _beats(earlier["min_value"], later["min_value"], lambda a, b: a <= b) else later
    )
    high = (
        earlier if _beats(earlier["max_value"], later["max_value"], lambda a, b: a >= b) else later
    )
    gap = earlier if earlier["gap_step"] is not None else later
    return {
        **{name: earlier[name] for name in ("run_id", "key", "level", "index")},
        **{name: earlier[name] + later[name] for name in ("count", "finite", "total")},
        "step_min": min(earlier["step_min"], later["step_min"]),
        "step_max": max(earlier["step_max"], later["step_max"]),
        **{name: first[name] for name in ("first_step", "first_value")},
        **{name: low[name] for name in ("min_step", "min_value")},
        **{name: high[name] for name in ("max_step", "max_value")},
        **{name: last[name] for name in ("last_step", "last_value")},
        "gap_step": gap["gap_step"],
    }


def _beats(mine, theirs, better):
    return mine is not None and (theirs is None or better(mine, theirs))


def rebuild(series):
    """Rebuild the tiles of `series` ((run_id, key) pairs) from their points."""
    for run_id, key in series:
        points = SeriesChunk.points([run_id], key).get(run_id)
        CurveTile.objects.filter(run_id=run_id, key=key).delete()
        if points is not None:
            CurveTile.objects.bulk_create(
                summarise(run_id, key, points.seq, points.step, points.value), batch_size=1000
            )
