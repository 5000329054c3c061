import django.db.models.deletion
from django.db import migrations, models


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
        # The chunks of points logged before them are built by 0017, in the layout it leaves.
    ]
