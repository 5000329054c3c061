import django.db.models.deletion
from django.db import migrations, models

def store_blobs_uncompressed(apps, schema_editor):
    # PostgreSQL tries to compress every value over 2 KB; packed floats do not compress, and
    # the attempt cost three times the rest of inserting a chunk.
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("experiments", "SeriesChunk")._meta.db_table)
    for column in ("steps", "values"):
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN {schema_editor.quote_name(column)} "
            "SET STORAGE EXTERNAL"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0016_series_chunks"),
    ]

    operations = [
        migrations.AlterField(
            model_name="metricpoint",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="points",
                to="experiments.run",
            ),
        ),
        migrations.AlterField(
            model_name="curvetile",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="experiments.run",
            ),
        ),
        migrations.AlterField(
            model_name="serieschunk",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="experiments.run",
            ),
        ),
        migrations.RemoveConstraint(model_name="serieschunk", name="serieschunk_unique"),
        migrations.RenameField(model_name="serieschunk", old_name="index", new_name="start"),
        migrations.AlterField(
            model_name="serieschunk",
            name="start",
            field=models.BigIntegerField(help_text="seq of its first point"),
        ),
        migrations.AddConstraint(
            model_name="serieschunk",
            constraint=models.UniqueConstraint(
                fields=("run", "key", "start"), name="serieschunk_unique"
            ),
        ),
        migrations.RunPython(store_blobs_uncompressed, migrations.RunPython.noop),
    ]
