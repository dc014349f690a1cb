"""SaliencyMap moves from the analysis app to scoring (readers see Grad-CAM in an aided phase,
and reading may not import analysis). State only: the table and its rows stay where they are,
under their old name."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0002_saliency_seconds"),
        ("scoring", "0003_cnn_score_diagnosis_class"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SaliencyMap",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "target",
                            models.CharField(
                                help_text="Training class or task explained", max_length=32
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Being computed"),
                                    ("ready", "Ready"),
                                    ("failed", "Failed"),
                                ],
                                max_length=8,
                            ),
                        ),
                        ("overlay", models.FileField(blank=True, max_length=255, upload_to="")),
                        ("error", models.TextField(blank=True)),
                        ("seconds", models.FloatField(blank=True, null=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "case",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="studies.case",
                            ),
                        ),
                        (
                            "model_version",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="scoring.modelversion",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_saliencymap",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("case", "model_version", "target"),
                                name="saliency_map_unique",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
