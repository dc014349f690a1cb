"""Models brought from elsewhere: registered with register_model, scored by a real worker on a
real study, refused by field when their description does not fit."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from classifier.external.description import description_from_dict
from classifier.external.timm_model import timm_predictor
from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import CnnScore, ModelVersion
from readerstudy.scoring.registration import ModelRegistrationError, model_version_register
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.scoring.services import study_scoring_enqueue
from tests.support.algorithms import (
    TIMM_ARCH,
    description,
    export_onnx,
    save_state_dict,
    timm_network,
    write_json,
)
from tests.support.cases import ham10000_study
from tests.support.scoring import wait_for_scores
from tests.support.worker import purge_queues, running_worker

TASK = "melanoma-vs-nevus"


@pytest.fixture
def algorithm(tmp_path: Path) -> dict[str, Path]:
    network = timm_network()
    return {
        "weights": save_state_dict(network, tmp_path / "net.pth"),
        "onnx": export_onnx(network, tmp_path / "net.onnx"),
        "config": write_json(description(), tmp_path / "net.json"),
    }


def register(*args: str) -> tuple[ModelVersion, str]:
    out = StringIO()
    call_command("register_model", *args, stdout=out)
    return ModelVersion.objects.order_by("-pk").first(), out.getvalue()


def reference_probabilities(weights: Path, study) -> dict[int, float]:
    """What the PyTorch model gives for each case (fp32, no autocast)."""
    taxonomy = load_taxonomy()
    parsed = description_from_dict(description(), training_classes=taxonomy.training_classes)
    predictor = timm_predictor(
        TIMM_ARCH,
        weights,
        parsed,
        taxonomy.training_classes,
        taxonomy_version=taxonomy.version,
        device="cpu",
        precision="fp32",
    )
    task = taxonomy.task(TASK)
    result = {}
    for case in study.cases.all():
        with case.display_image.open("rb") as handle, Image.open(handle) as image:
            fine = predictor.predict(predictor.transform(image.convert("RGB"))[None]).fine
        result[case.pk] = float(taxonomy.task_probability(fine, task)[0])
    return result


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_onnx_export_scores_a_real_study_like_the_pytorch_model(
    algorithm, worker_log_dir, settings
) -> None:
    settings.READERSTUDY_SCORING_CHUNK = 8
    study = ham10000_study(16, task=TASK)
    purge_queues(["cpu"])
    onnx_model, out = register(
        str(algorithm["onnx"]), "--config", str(algorithm["config"]), "--activate", "--task", TASK
    )
    timm_model, _ = register(
        str(algorithm["weights"]), "--arch", TIMM_ARCH, "--config", str(algorithm["config"])
    )
    assert "registered: model" in out and onnx_model.kind == "onnx"
    assert model_version_active_get(TASK) == onnx_model
    assert timm_model.kind == "timm" and timm_model.arch == TIMM_ARCH
    with running_worker(worker_log_dir, queues=["cpu"]) as worker:
        # --activate sent the study's cases; the timm model is asked for explicitly.
        study_scoring_enqueue(study=study, model_version=timm_model, reason="test")
        assert wait_for_scores(study, onnx_model, expected=16, worker=worker) == (16, 0)
        assert wait_for_scores(study, timm_model, expected=16, worker=worker) == (16, 0)

    expected = reference_probabilities(algorithm["weights"], study)
    onnx_scores = CnnScore.objects.filter(model_version=onnx_model)
    for score in onnx_scores:
        assert score.probability == pytest.approx(expected[score.case_id], abs=1e-4)
        assert set(score.fine_probabilities) == set(load_taxonomy().training_classes)
        assert score.fine_probabilities["bcc"] == 0.0  # nothing maps onto it
        assert score.embedding is None
        assert score.device == "cpu:onnx"
    assert np.std([s.probability for s in onnx_scores]) > 0.01
    for score in CnnScore.objects.filter(model_version=timm_model):
        # The worker may compute in bf16 on a CPU that has it: close, not equal.
        assert score.probability == pytest.approx(expected[score.case_id], abs=0.05)
        assert score.embedding is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"input_size": [224, 224]}, "input_size"),
        (
            {
                "class_names": ["melanoma", "nevus"],
                "taxonomy_mapping": {"melanoma": "mel", "nevus": "nv"},
            },
            "class_names",
        ),
        (
            {"taxonomy_mapping": {"melanoma": "mel", "nevus": "naevus", "other": None}},
            "taxonomy_mapping",
        ),
    ],
)
def test_a_description_that_does_not_fit_is_refused_naming_the_field_and_stores_nothing(
    algorithm, tmp_path, changes, field
) -> None:
    config = write_json(description(**changes), tmp_path / "wrong.json")
    before = ModelVersion.objects.count()
    with pytest.raises(CommandError, match=rf"\b{field}: "):
        register(str(algorithm["onnx"]), "--config", str(config))
    if field != "input_size":  # a convolutional timm network runs at any input size
        with pytest.raises(CommandError, match=rf"\b{field}: "):
            register(str(algorithm["weights"]), "--arch", TIMM_ARCH, "--config", str(config))
    assert ModelVersion.objects.count() == before


@pytest.mark.django_db
def test_the_file_and_the_description_together_identify_a_model(algorithm, tmp_path) -> None:
    first, _ = register(str(algorithm["onnx"]), "--config", str(algorithm["config"]))
    again, out = register(str(algorithm["onnx"]), "--config", str(algorithm["config"]))
    assert "already registered" in out and again == first
    other_config = write_json(description(mean=[0.5, 0.5, 0.5]), tmp_path / "other.json")
    other, out = register(str(algorithm["onnx"]), "--config", str(other_config))
    assert "already registered" not in out and other != first
    assert other.file_sha256 == first.file_sha256 and other.sha256 != first.sha256
    assert first.checkpoint.name == f"models/{first.sha256}.onnx"
    assert first.description["taxonomy_mapping"] == {
        "melanoma": "mel",
        "nevus": "nv",
        "other": None,
    }


@pytest.mark.django_db
def test_arch_without_a_description_is_refused(algorithm) -> None:
    with pytest.raises(CommandError, match="--arch needs --config"):
        register(str(algorithm["weights"]), "--arch", TIMM_ARCH)


@pytest.mark.django_db
def test_the_service_refuses_an_architecture_without_a_description_in_no_tools_words(
    algorithm,
) -> None:
    # Its message reaches the models page and the API too: no command-line flags in it.
    with pytest.raises(ModelRegistrationError) as refused:
        model_version_register(path=algorithm["weights"], arch=TIMM_ARCH)
    assert "--" not in str(refused.value) and "JSON description" in str(refused.value)


@pytest.mark.django_db
def test_the_api_and_the_models_page_register_onnx_models_and_name_the_wrong_field(
    algorithm, tmp_path, coordinator_client, analyst_client
) -> None:
    wrong = write_json(description(input_size=[224, 224]), tmp_path / "wrong.json")
    with algorithm["onnx"].open("rb") as model, wrong.open("rb") as config:
        response = coordinator_client.post(
            "/api/v1/scoring/models/", {"checkpoint": model, "config": config}
        )
    assert response.status_code == 400
    [message] = response.json()["config"]
    assert message.startswith("net.onnx: input_size: the model's input has shape")
    assert not ModelVersion.objects.filter(kind="onnx").exists()

    with algorithm["onnx"].open("rb") as model, algorithm["config"].open("rb") as config:
        response = coordinator_client.post(
            "/scoring/models/", {"model": model, "config": config, "name": "Group net"}
        )
    assert response.status_code == 302
    registered = ModelVersion.objects.get(kind="onnx")
    assert registered.name == "Group net" and registered.created_by.username == "coordinator"
    page = analyst_client.get("/scoring/models/").content.decode()
    assert "Group net" in page and "melanoma → mel" in page and "other → (none)" in page
    assert registered.sha256 in page and (
        '<span class="metric-label">auc_melanoma_vs_nevus:</span> 0.9<' in page
    )
    assert 'id="register-model"' not in page, "analysts read the cards, coordinators register"
    card = analyst_client.get(f"/api/v1/scoring/models/{registered.pk}/").json()
    assert card["kind"] == "onnx" and card["created_by"] == "coordinator"
    assert card["taxonomy_mapping"] == {"melanoma": "mel", "nevus": "nv", "other": None}


@pytest.mark.django_db
def test_a_coordinator_activates_a_model_from_its_card(algorithm, coordinator_client) -> None:
    registered, _ = register(str(algorithm["onnx"]), "--config", str(algorithm["config"]))
    page = coordinator_client.get("/scoring/models/").content.decode()
    assert f'action="/scoring/models/{registered.pk}/activate/"' in page
    response = coordinator_client.post(
        f"/scoring/models/{registered.pk}/activate/", {"task": TASK}, follow=True
    )
    assert f"{registered.name} now scores {TASK}" in response.content.decode()
    assert model_version_active_get(TASK) == registered
    assert model_version_active_get("carcinoma-vs-keratosis") != registered
