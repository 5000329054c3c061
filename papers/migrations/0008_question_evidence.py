"""Research-question links become evidence: a paper (at a passage, optionally), an experiment,
a run or a technique, each with a stance and a required rationale; questions gain "what would
resolve this".

Existing links are kept: their quoted passage becomes the quote, "background" becomes
"context", and a rationale is written saying it was never given (the model requires one now).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MISSING_RATIONALE = "(Linked before evidence needed a reason: say why.)"


def _check_now(schema_editor):
    # PostgreSQL refuses to ALTER a table with deferred foreign-key checks pending from the
    # updates above in the same transaction: run those checks now.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def links_to_evidence(apps, schema_editor):
    QuestionLink = apps.get_model("papers", "QuestionLink")
    QuestionLink.objects.filter(stance="background").update(stance="context")
    QuestionLink.objects.filter(rationale="").update(rationale=MISSING_RATIONALE)
    _check_now(schema_editor)


def evidence_to_links(apps, schema_editor):
    QuestionLink = apps.get_model("papers", "QuestionLink")
    QuestionLink.objects.filter(stance="context").update(stance="background")
    QuestionLink.objects.filter(rationale=MISSING_RATIONALE).update(rationale="")
    _check_now(schema_editor)


def drop_evidence_without_paper(apps, schema_editor):
    """Backwards: experiments, runs and techniques have no place in the old links table."""
    apps.get_model("papers", "QuestionLink").objects.filter(paper__isnull=True).delete()
    _check_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0013_curve_tiles"),
        ("papers", "0007_pdf"),
        ("radar", "0003_technique_changes_review_edits"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="questionlink", name="papers_question_link_unique"),
        migrations.RenameField(model_name="questionlink", old_name="passage", new_name="quote"),
        migrations.AlterField(
            model_name="questionlink",
            name="quote",
            field=models.TextField(blank=True, help_text="The words that matter, quoted"),
        ),
        migrations.AddField(
            model_name="questionlink",
            name="rationale",
            field=models.TextField(
                default="", help_text="Why this supports, contradicts or frames the answer"
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="questionlink",
            name="stance",
            field=models.CharField(
                choices=[
                    ("supports", "Supports"),
                    ("contradicts", "Contradicts"),
                    ("context", "Context"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(links_to_evidence, evidence_to_links),
        migrations.AlterField(
            model_name="questionlink",
            name="question",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="evidence",
                to="papers.researchquestion",
            ),
        ),
        migrations.AlterField(
            model_name="questionlink",
            name="paper",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_links",
                to="papers.paper",
            ),
        ),
        migrations.AddField(
            model_name="questionlink",
            name="passage",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="question_links",
                to="papers.passage",
            ),
        ),
        migrations.AddField(
            model_name="questionlink",
            name="experiment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_links",
                to="experiments.experiment",
            ),
        ),
        migrations.AddField(
            model_name="questionlink",
            name="run",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_links",
                to="experiments.run",
            ),
        ),
        migrations.AddField(
            model_name="questionlink",
            name="technique",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_links",
                to="radar.technique",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, drop_evidence_without_paper),
        migrations.AlterModelOptions(
            name="questionlink",
            options={
                "ordering": ["stance", "-created_at"],
                "verbose_name": "evidence",
                "verbose_name_plural": "evidence",
            },
        ),
        migrations.AddField(
            model_name="researchquestion",
            name="what_would_resolve",
            field=models.TextField(
                blank=True,
                help_text="The information the team lacks: the result, paper or number that "
                "would settle the question. Markdown.",
                verbose_name="what would resolve this",
            ),
        ),
        migrations.AddConstraint(
            model_name="researchquestion",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["open", "partly_answered", "answered"]),
                name="papers_question_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionlink",
            constraint=models.CheckConstraint(
                # Exactly one of paper, experiment, run and technique is set.
                condition=models.Q(
                    models.Q(
                        ("paper__isnull", False),
                        ("experiment__isnull", True),
                        ("run__isnull", True),
                        ("technique__isnull", True),
                    ),
                    models.Q(
                        ("experiment__isnull", False),
                        ("paper__isnull", True),
                        ("run__isnull", True),
                        ("technique__isnull", True),
                    ),
                    models.Q(
                        ("run__isnull", False),
                        ("paper__isnull", True),
                        ("experiment__isnull", True),
                        ("technique__isnull", True),
                    ),
                    models.Q(
                        ("technique__isnull", False),
                        ("paper__isnull", True),
                        ("experiment__isnull", True),
                        ("run__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="papers_evidence_exactly_one_target",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionlink",
            constraint=models.CheckConstraint(
                condition=models.Q(passage__isnull=True) | models.Q(paper__isnull=False),
                name="papers_evidence_passage_of_its_paper",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionlink",
            constraint=models.CheckConstraint(
                condition=models.Q(stance__in=["supports", "contradicts", "context"]),
                name="papers_evidence_stance_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionlink",
            constraint=models.CheckConstraint(
                condition=~models.Q(rationale=""), name="papers_evidence_has_rationale"
            ),
        ),
        *(
            migrations.AddConstraint(
                model_name="questionlink",
                constraint=models.UniqueConstraint(
                    fields=["question", target], name=f"papers_evidence_unique_{target}"
                ),
            )
            for target in ("paper", "experiment", "run", "technique")
        ),
    ]
