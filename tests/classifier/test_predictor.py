"""The shipped model through the Predictor: probabilities, features, precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from classifier import DEFAULT_CHECKPOINT
from classifier.checkpoint import load_checkpoint
from classifier.data import Case, load_image
from classifier.predictor import (
    Predictor,
    output_to_class_matrix,
    resolve_precision,
    tta_mode,
    tta_views,
)
from classifier.taxonomy import Taxonomy
from tests.support.lesion_data import needs_data

pytestmark = needs_data


def test_shipped_model_is_a_small_fp16_file_with_its_provenance() -> None:
    size_mb = DEFAULT_CHECKPOINT.stat().st_size / 1e6
    assert size_mb <= 25, f"default.pt is {size_mb:.1f} MB"
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT)
    assert checkpoint.name == "readerstudy-dermoscopy-lite0-v1"
    assert checkpoint.config.output_classes[-1] == "nv:biopsied"
    assert checkpoint.recipe["split"] == "classifier/models/split.csv"
    for task in ("melanoma-vs-nevus", "carcinoma-vs-keratosis"):
        assert 0.5 < checkpoint.metrics["test"][task]["auc"] < 1.0


def test_probabilities_cover_the_training_classes_and_sum_to_one(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    images = [load_image(c.path) for c in heldout_cases[:6]]
    prediction = shipped_predictor.predict_images(images, batch_size=4, features=True)
    assert prediction.class_names == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    assert prediction.fine.shape == (6, 7)
    np.testing.assert_allclose(prediction.fine.sum(axis=1), 1.0, atol=1e-5)
    assert prediction.features is not None and prediction.features.shape[0] == 6
    assert np.isfinite(prediction.features).all()


def test_biopsied_nevus_output_is_summed_into_nevus(shipped_predictor: Predictor) -> None:
    matrix = output_to_class_matrix(shipped_predictor.config)
    outputs = shipped_predictor.config.output_classes
    nv = shipped_predictor.config.class_names.index("nv")
    assert matrix[outputs.index("nv:biopsied"), nv] == 1
    assert matrix[outputs.index("nv"), nv] == 1
    assert matrix.sum(dim=1).tolist() == [1.0] * len(outputs)


def test_scores_do_not_depend_on_the_batch(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    images = [load_image(c.path) for c in heldout_cases[:5]]
    together = shipped_predictor.predict_images(images, batch_size=5).fine
    alone = np.concatenate([shipped_predictor.predict_images([im]).fine for im in images])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_melanoma_task_probability_ranks_a_melanoma_above_a_biopsied_nevus(
    shipped_predictor: Predictor, heldout_cases: list[Case], taxonomy: Taxonomy
) -> None:
    # The ten melanomas and ten biopsy-proven nevi of the held-out split the model is surest
    # of: their mean melanoma probabilities must be ordered (a model that learnt nothing fails).
    mel = [c for c in heldout_cases if c.diagnosis == "mel"][:10]
    nv = [c for c in heldout_cases if c.diagnosis == "nv" and c.biopsy_proven][:10]
    prediction = shipped_predictor.predict_images([load_image(c.path) for c in mel + nv])
    p = prediction.task_probability(taxonomy, "melanoma-vs-nevus")
    assert p[:10].mean() > p[10:].mean() + 0.1


def test_bad_batches_and_precisions_are_refused(shipped_predictor: Predictor) -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        shipped_predictor.predict(torch.zeros(3, 224, 224))
    with pytest.raises(ValueError, match="fp16 autocast is for CUDA"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("int4", torch.device("cpu"))


def test_dihedral_views_are_the_eight_symmetries_of_the_square() -> None:
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    views = tta_views(x, "dihedral")
    assert len(views) == 8 and len(tta_views(x, "flips")) == 4 and len(tta_views(x, "none")) == 1
    assert [tuple(v.shape[2:]) for v in views] == [(4, 5)] * 4 + [(5, 4)] * 4
    # All different, and the same set of pixels in each: rearrangements of one image.
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    for view in views:
        assert torch.equal(view.flatten(1).sort().values, x.flatten(1).sort().values)
    assert (tta_mode(True), tta_mode(False), tta_mode("dihedral")) == ("flips", "none", "dihedral")
    with pytest.raises(ValueError, match="tta must be one of"):
        tta_mode("rotate")


@needs_data
def test_dihedral_tta_averages_the_eight_views(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    images = [load_image(c.path) for c in heldout_cases[:3]]
    batch = torch.stack([shipped_predictor.transform(image) for image in images])
    dihedral = Predictor(
        shipped_predictor.network, shipped_predictor.config, device="cpu", precision="fp32",
        tta="dihedral",
    )  # fmt: skip
    by_view = [shipped_predictor.predict(view).fine for view in tta_views(batch, "dihedral")]
    np.testing.assert_allclose(dihedral.predict(batch).fine, np.mean(by_view, axis=0), atol=1e-5)
    # The transposed views are not the same prediction as the plain ones.
    assert np.abs(by_view[4] - by_view[0]).max() > 1e-4
