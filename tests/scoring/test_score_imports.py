"""Imported scores: all or nothing, every problem named by its row, from the command line,
the study page and the API."""

from __future__ import annotations

import hashlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from readerstudy.scoring.models import CnnScore, ModelVersion
from tests.factories import CaseFactory, StudyFactory
from tests.support.algorithms import write_scores

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(coordinator):
    study = StudyFactory(created_by=coordinator)
    study.coordinators.add(coordinator)
    for n in range(6):
        CaseFactory(study=study, diagnosis="mel" if n % 2 else "nv", source_id=f"ISIC_{n:07d}")
    return study


def ids(study) -> list[str]:
    return list(study.cases.order_by("position").values_list("source_id", flat=True))


def import_scores(study, path: Path, name: str = "Device X") -> str:
    out = StringIO()
    call_command(
        "import_scores", "--study", str(study.pk), "--scores", str(path), "--name", name, stdout=out
    )
    return out.getvalue()


def nothing_imported(path: Path) -> None:
    assert not ModelVersion.objects.filter(kind="imported").exists()
    assert not CnnScore.objects.filter(device="imported").exists()
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    assert not default_storage.exists(f"models/{sha256}.csv")


def test_a_missing_a_duplicate_and_an_unknown_case_import_nothing_and_are_named_by_row(
    study, tmp_path
) -> None:
    cases = ids(study)
    rows = [(cases[0], 0.9), (cases[1], 0.2), (cases[1], 0.3), ("ISIC_9999999", 0.5)]
    rows += [(c, 0.4) for c in cases[2:5]]  # cases[5] is missing
    path = write_scores(tmp_path / "device.csv", ["source_id", "probability"], rows)
    with pytest.raises(CommandError) as refused:
        import_scores(study, path)
    message = str(refused.value)
    assert message.startswith("device.csv: nothing was imported")
    assert f"row 4: source_id '{cases[1]}' is also on row 3" in message
    assert f"row 5: source_id 'ISIC_9999999' is not a case of study {study.pk}" in message
    assert f"no row: source_id '{cases[5]}' of the study has no score" in message
    nothing_imported(path)


def test_values_that_are_not_probabilities_are_named_by_row_and_column(study, tmp_path) -> None:
    cases = ids(study)
    rows = [(c, 0.5) for c in cases]
    rows[1] = (cases[1], "high")
    rows[4] = (cases[4], 1.5)
    path = write_scores(tmp_path / "device.csv", ["source_id", "probability"], rows)
    with pytest.raises(CommandError) as refused:
        import_scores(study, path)
    assert "row 3: probability: 'high' is not a number" in str(refused.value)
    assert "row 6: probability: 1.5 is not a probability between 0 and 1" in str(refused.value)
    nothing_imported(path)


def test_a_column_that_is_no_class_is_named(study, tmp_path) -> None:
    path = write_scores(
        tmp_path / "device.csv", ["source_id", "melanoma"], [(c, 0.5) for c in ids(study)]
    )
    with pytest.raises(CommandError, match="row 1: column 'melanoma' is neither probability"):
        import_scores(study, path)
    nothing_imported(path)


def test_class_columns_give_the_task_probability_by_the_taxonomy_sums(study, tmp_path) -> None:
    cases = ids(study)
    rows = [(c, 0.6, 0.2, 0.2) for c in cases]  # P(mel | mel or nv) = 0.75
    path = write_scores(tmp_path / "classes.csv", ["source_id", "mel", "nv", "bkl"], rows)
    out = import_scores(study, path, name="Group Y")
    assert f"imported 6 scores of study {study.pk}" in out
    algorithm = ModelVersion.objects.get(kind="imported")
    assert algorithm.name == "Group Y"
    assert algorithm.checkpoint.name == f"models/{algorithm.sha256}.csv"
    assert algorithm.class_names == ["mel", "nv", "bkl"]
    score = CnnScore.objects.filter(model_version=algorithm).first()
    assert score.probability == pytest.approx(0.75)
    assert score.fine_probabilities == {"mel": 0.6, "nv": 0.2, "bkl": 0.2}
    with pytest.raises(CommandError, match="already imported for this study"):
        import_scores(study, path)


def test_the_study_page_and_the_api_import_scores_and_report_rows(
    study, coordinator_client, reader_a_client, tmp_path
) -> None:
    cases = ids(study)
    bad = write_scores(tmp_path / "bad.csv", ["source_id", "probability"], [(cases[0], 0.5)])
    with bad.open("rb") as handle:
        response = coordinator_client.post(
            f"/api/v1/scoring/studies/{study.pk}/scores/", {"name": "Device", "scores": handle}
        )
    assert response.status_code == 400
    assert f"no row: source_id '{cases[1]}' of the study has no score" in response.json()["scores"]
    nothing_imported(bad)

    good = write_scores(
        tmp_path / "good.csv",
        ["source_id", "probability"],
        [(c, 0.1 * n) for n, c in enumerate(cases)],
    )
    with good.open("rb") as handle:
        assert (
            reader_a_client.post(
                f"/api/v1/scoring/studies/{study.pk}/scores/", {"name": "D", "scores": handle}
            ).status_code
            == 404
        )
    with good.open("rb") as handle:
        response = coordinator_client.post(
            f"/scoring/studies/{study.pk}/import-scores/",
            {"name": "Device", "scores": handle, "next": f"/studies/{study.pk}/"},
            follow=True,
        )
    assert "Imported the scores of Device for every case" in response.content.decode()
    algorithm = ModelVersion.objects.get(kind="imported")
    assert CnnScore.objects.filter(model_version=algorithm).count() == 6
    body = coordinator_client.get(f"/api/v1/scoring/studies/{study.pk}/algorithm/").json()
    assert algorithm.pk in [a["id"] for a in body["algorithms"]]
    assert body["algorithms"][0]["kind"] == "imported"
