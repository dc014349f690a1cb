"""The CNN's class answer stored with each score; existing scores of studies that ask a
diagnosis get it from their stored per-class probabilities."""

from django.db import migrations, models


def _cnn_answer(scheme, fine):
    """The class with the highest summed probability, ties to the scheme's first class
    (the rule of studies.design.ClassScheme.cnn_answer, frozen here as of this migration)."""
    if not fine:
        return None
    best, best_probability = None, None
    for diagnosis_class in scheme["classes"]:
        probability = sum(
            float(fine.get(v, 0.0)) for v in diagnosis_class.get("training_classes", ())
        )
        if best_probability is None or probability > best_probability:
            best, best_probability = diagnosis_class["code"], probability
    return best


def fill_cnn_classes(apps, schema_editor):
    Study = apps.get_model("studies", "Study")
    CnnScore = apps.get_model("scoring", "CnnScore")
    studies = Study.objects.exclude(design="management").filter(diagnosis_scheme__isnull=False)
    for study in studies.only("pk", "diagnosis_scheme").iterator():
        if not study.diagnosis_scheme:
            continue
        changed = []
        scores = CnnScore.objects.filter(case__study_id=study.pk).only("pk", "fine_probabilities")
        for score in scores.iterator(chunk_size=2000):
            answer = _cnn_answer(study.diagnosis_scheme, score.fine_probabilities or {})
            if answer is not None:
                score.diagnosis_class = answer
                changed.append(score)
        CnnScore.objects.bulk_update(changed, ["diagnosis_class"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0002_external_algorithms"),
        ("studies", "0005_design_questions"),
    ]

    operations = [
        migrations.AddField(
            model_name="cnnscore",
            name="diagnosis_class",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.RunPython(fill_cnn_classes, migrations.RunPython.noop, elidable=True),
    ]
