"""SaliencyMap now belongs to the scoring app (scoring 0004); the table stays, state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0002_saliency_seconds"),
        ("scoring", "0004_saliencymap"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SaliencyMap")],
            database_operations=[],
        ),
    ]
