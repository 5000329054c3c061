import django.db.models.deletion
from django.db import migrations, models

# Keyword search moved to a Tantivy index derived from the database (papers/keyword.py):
# SearchDocument, SQLite's FTS5 table and its triggers go. Passages get vectors of their own
# (PassageEmbedding), for each model's passage index (papers/vector_index.py). On PostgreSQL the GIN index goes
# with the table. Backwards, the FTS5 structures come back empty (0003's statements), and
# `manage.py reindex` of that code fills them.
SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS papers_search_fts_update",
    "DROP TRIGGER IF EXISTS papers_search_fts_delete",
    "DROP TRIGGER IF EXISTS papers_search_fts_insert",
    "DROP TABLE IF EXISTS papers_search_fts",
]
SQLITE_BACKWARD = [
    """CREATE VIRTUAL TABLE papers_search_fts USING fts5(
        title, body, notes, content='papers_searchdocument', content_rowid='paper_id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER papers_search_fts_insert AFTER INSERT ON papers_searchdocument BEGIN
        INSERT INTO papers_search_fts(rowid, title, body, notes)
        VALUES (new.paper_id, new.title, new.body, new.notes);
    END""",
    """CREATE TRIGGER papers_search_fts_delete AFTER DELETE ON papers_searchdocument BEGIN
        INSERT INTO papers_search_fts(papers_search_fts, rowid, title, body, notes)
        VALUES ('delete', old.paper_id, old.title, old.body, old.notes);
    END""",
    """CREATE TRIGGER papers_search_fts_update AFTER UPDATE ON papers_searchdocument BEGIN
        INSERT INTO papers_search_fts(papers_search_fts, rowid, title, body, notes)
        VALUES ('delete', old.paper_id, old.title, old.body, old.notes);
        INSERT INTO papers_search_fts(rowid, title, body, notes)
        VALUES (new.paper_id, new.title, new.body, new.notes);
    END""",
]
POSTGRES_BACKWARD = [
    "CREATE INDEX papers_searchdocument_vector_gin ON papers_searchdocument "
    "USING GIN (search_vector)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0005_passages"),
    ]

    # Backwards the table is recreated (DeleteModel reversed) before the FTS5 statements run.
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
        migrations.DeleteModel(name="SearchDocument"),
        migrations.CreateModel(
            name='PassageEmbedding',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('model', models.CharField(max_length=100)),
                ('dim', models.PositiveIntegerField()),
                ('vector', models.BinaryField()),
                ('content_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('passage', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='embeddings', to='papers.passage')),
            ],
            options={
                'indexes': [models.Index(fields=['model', 'passage'], name='papers_passage_embedding_idx')],
                'constraints': [models.UniqueConstraint(fields=('passage', 'model'), name='one_passage_embedding_per_model')],
            },
        ),
    ]
