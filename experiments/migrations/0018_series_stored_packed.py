import numpy as np
from django.db import migrations, models

from experiments.models.chunks import CHUNK_SIZE, pack
from experiments.models.curves import summarise


def pack_series(apps, schema_editor):
    # A series' points move from their rows into chunks (with their wall times), and its
    # tiles are rebuilt from the same arrays; bucketed points stay rows.
    chunk = apps.get_model("experiments", "SeriesChunk")
    tile = apps.get_model("experiments", "CurveTile")
    summary = apps.get_model("experiments", "MetricSummary")
    point = apps.get_model("experiments", "MetricPoint")
    chunk.objects.all().delete()
    tile.objects.all().delete()
    for found in summary.objects.filter(bucket="").order_by("run_id", "key"):
        rows = point.objects.filter(run_id=found.run_id, key=found.key, bucket="").order_by("seq")
        columns = list(zip(*rows.values_list("step", "value", "wall_time").iterator(
            chunk_size=CHUNK_SIZE), strict=True)) or [(), (), ()]  # fmt: skip
        step = np.array(columns[0], dtype=np.int64)
        value, wall_time = (
            np.array([np.nan if item is None else item for item in column], dtype=np.float64)
            for column in columns[1:]
        )
        chunk.objects.bulk_create(pack(found.run_id, found.key, step, value, wall_time,
                                       model=chunk), batch_size=100)  # fmt: skip
        tile.objects.bulk_create(summarise(found.run_id, found.key, np.arange(len(step)), step,
                                           value, model=tile), batch_size=1000)  # fmt: skip
        at_last = np.flatnonzero(step == found.last_step)
        found.count = len(step)  # the chunks hold exactly the series' points 0 .. count - 1
        last = wall_time[at_last[-1]] if len(at_last) else np.nan
        found.last_wall_time = None if np.isnan(last) else float(last)
        found.save(update_fields=["count", "last_wall_time"])
        rows.delete()


def unpack_series(apps, schema_editor):
    chunk = apps.get_model("experiments", "SeriesChunk")
    point = apps.get_model("experiments", "MetricPoint")
    for found in chunk.objects.order_by("run_id", "key", "start").iterator(chunk_size=100):
        arrays = [np.frombuffer(bytes(blob), dtype=kind) for blob, kind in (
            (found.steps, "<i8"), (found.values, "<f8"), (found.wall_times, "<f8"))]  # fmt: skip
        point.objects.bulk_create([
            point(run_id=found.run_id, key=found.key, bucket="", step=step,
                  value=None if value != value else value,
                  wall_time=None if wall != wall else wall, seq=found.start + offset)
            for offset, (step, value, wall) in enumerate(zip(*(a.tolist() for a in arrays),
                                                            strict=True))
        ], batch_size=1000)  # fmt: skip


def store_wall_times_uncompressed(apps, schema_editor):
    # As 0017 did for the steps and values: packed floats do not compress.
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("experiments", "SeriesChunk")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN wall_times SET STORAGE EXTERNAL")


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0017_lighter_ingest"),
    ]

    operations = [
        migrations.AddField(
            model_name="serieschunk",
            name="step_max",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="serieschunk",
            name="step_min",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="serieschunk",
            name="wall_times",
            field=models.BinaryField(
                default=b"", help_text="float64 little-endian Unix seconds (NaN: none)"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="metricsummary",
            name="last_wall_time",
            field=models.FloatField(help_text="Unix time of the last step's point", null=True),
        ),
        migrations.RunPython(store_wall_times_uncompressed, migrations.RunPython.noop),
        migrations.RunPython(pack_series, unpack_series),
        migrations.RemoveIndex(model_name="metricpoint", name="metricpoint_run_key_step"),
        migrations.AlterField(
            model_name="metricpoint",
            name="bucket",
            field=models.CharField(help_text="Stratum label", max_length=100),
        ),
    ]
