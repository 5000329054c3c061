import django.db.models.deletion
from django.db import migrations, models

from experiments.models.chunks import backfill


def backfill_chunks(apps, schema_editor):
    # Points logged before chunks existed get theirs here; new points get them at ingest.
    backfill(
        apps.get_model("experiments", "SeriesChunk"),
        apps.get_model("experiments", "MetricSummary"),
        apps.get_model("experiments", "MetricPoint"),
    )


class Migration(migrations.Migration):

    dependencies = [
        ("experiments", "0015_criterion_reference_check"),
    ]

    operations = [
        migrations.CreateModel(
            name="SeriesChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=100)),
                ("index", models.BigIntegerField(help_text="seq // CHUNK_SIZE")),
                ("count", models.PositiveIntegerField()),
                ("steps", models.BinaryField(help_text="int64 little-endian, one per point in seq order")),
                ("values", models.BinaryField(help_text="float64 little-endian (NaN for a missing value)")),
                ("run", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="experiments.run")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("run", "key", "index"), name="serieschunk_unique")],
            },
        ),
        migrations.RunPython(backfill_chunks, migrations.RunPython.noop),
    ]
