"""A coordinator brings their own algorithm through the browser: the Models page is reached
from the navigation, an ONNX model whose description does not fit is refused naming the
field, the right one gets its card; an algorithm that cannot run here brings its scores to
the study page."""

from __future__ import annotations

import pytest

from readerstudy.scoring.models import CnnScore, ModelVersion
from tests.factories import CaseFactory, StudyFactory
from tests.support.algorithms import (
    description,
    export_onnx,
    timm_network,
    write_json,
    write_scores,
)
from tests.support.browser import browser_login


@pytest.mark.browser
def test_a_coordinator_registers_an_onnx_model_on_the_models_page(
    page, coordinator, tmp_path, artifacts
) -> None:
    onnx = export_onnx(timm_network(), tmp_path / "group-net.onnx")
    right = write_json(description(), tmp_path / "group-net.json")
    wrong = write_json(description(input_size=[224, 224]), tmp_path / "wrong.json")

    browser_login(page, "coordinator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_role("heading", name="Register a model").wait_for()
    form = page.locator("#register-model form")
    form.get_by_label("Model file").set_input_files(str(onnx))
    form.get_by_label("JSON description").set_input_files(str(wrong))
    form.get_by_role("button", name="Register").click()
    page.get_by_role("alert").filter(has_text="input_size").wait_for()
    assert "group-net.onnx: input_size: the model's input has shape" in (
        page.get_by_role("alert").inner_text()
    )
    assert not ModelVersion.objects.filter(kind="onnx").exists()

    form.get_by_label("Model file").set_input_files(str(onnx))
    form.get_by_label("JSON description").set_input_files(str(right))
    form.get_by_label("Name", exact=True).fill("Group net")
    form.get_by_role("button", name="Register").click()
    page.get_by_text("Registered Group net").wait_for()
    registered = ModelVersion.objects.get(kind="onnx")
    assert (registered.name, registered.created_by.username) == ("Group net", "coordinator")
    card = page.locator(f"#model-card-{registered.pk}")
    assert card.get_by_role("heading", name="Group net").is_visible()
    assert "melanoma → mel" in card.inner_text()
    page.screenshot(path=str(artifacts / "scoring-models-registered.png"), full_page=True)

    # Home leads there too.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    page.get_by_role("link", name="Models").last.click()
    page.get_by_role("heading", name="Models", exact=True).wait_for()


@pytest.mark.browser
def test_a_coordinator_imports_an_algorithm_s_scores_on_the_study_page(
    page, coordinator, tmp_path, artifacts
) -> None:
    study = StudyFactory(created_by=coordinator, status="draft")
    study.coordinators.add(coordinator)
    ids = [f"ISIC_{n:07d}" for n in range(4)]
    for n, source_id in enumerate(ids):
        CaseFactory(study=study, diagnosis="mel" if n % 2 else "nv", source_id=source_id)
    scores = write_scores(
        tmp_path / "vendor.csv",
        ["source_id", "probability"],
        [(i, 0.2 * n) for n, i in enumerate(ids)],
    )

    browser_login(page, "coordinator")
    page.goto(f"/studies/{study.pk}/")
    page.get_by_text("Import an algorithm's scores (CSV)").click()
    page.get_by_label("Algorithm name").fill("Vendor X 2.1")
    page.get_by_label("Score file").set_input_files(str(scores))
    page.locator("#scoring").screenshot(path=str(artifacts / "scoring-import-scores.png"))
    page.get_by_role("button", name="Import scores").click()
    page.get_by_text("Imported the scores of Vendor X 2.1 for every case").wait_for()
    imported = ModelVersion.objects.get(kind="imported")
    assert imported.name == "Vendor X 2.1"
    assert CnnScore.objects.filter(model_version=imported).count() == len(ids)
