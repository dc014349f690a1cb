"""The taxonomy's summing rules on hand-made probability distributions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from classifier.taxonomy import Taxonomy, TaxonomyError

# Columns in training-class order: akiec, bcc, bkl, df, mel, nv, vasc
FINE = np.array(
    [
        [0.05, 0.10, 0.15, 0.05, 0.30, 0.25, 0.10],
        [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 1.00],
        [0.40, 0.20, 0.10, 0.00, 0.00, 0.30, 0.00],
    ]
)


def test_training_classes_are_the_cnn_output_order(taxonomy: Taxonomy) -> None:
    assert taxonomy.training_classes == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")


def test_inference_class_sums_its_training_classes(taxonomy: Taxonomy) -> None:
    inference = taxonomy.inference_probabilities(FINE)
    np.testing.assert_allclose(inference["malignant"], [0.45, 0.0, 0.60])
    np.testing.assert_allclose(inference["benign"], [0.55, 1.0, 0.40])
    np.testing.assert_allclose(inference["melanocytic"], [0.55, 0.0, 0.30])
    np.testing.assert_allclose(inference["epidermal"], [0.30, 0.0, 0.70])


def test_malignant_and_benign_partition_the_probability(taxonomy: Taxonomy) -> None:
    inference = taxonomy.inference_probabilities(FINE)
    np.testing.assert_allclose(inference["malignant"] + inference["benign"], 1.0)


def test_melanoma_task_renormalises_over_melanoma_and_nevus(taxonomy: Taxonomy) -> None:
    p = taxonomy.task_probability(FINE, taxonomy.task("melanoma-vs-nevus"))
    np.testing.assert_allclose(p[[0, 2]], [0.30 / 0.55, 0.0])


def test_carcinoma_task_sums_bcc_and_akiec_against_keratosis(taxonomy: Taxonomy) -> None:
    p = taxonomy.task_probability(FINE, taxonomy.task("carcinoma-vs-keratosis"))
    np.testing.assert_allclose(p[[0, 2]], [0.15 / 0.30, 0.60 / 0.70])


def test_malignant_task_is_the_malignant_inference_class(taxonomy: Taxonomy) -> None:
    p = taxonomy.task_probability(FINE, taxonomy.task("malignant-vs-benign"))
    np.testing.assert_allclose(p, taxonomy.inference_probabilities(FINE)["malignant"])


def test_task_without_mass_on_its_classes_scores_one_half(taxonomy: Taxonomy) -> None:
    p = taxonomy.task_probability(FINE[1], taxonomy.task("melanoma-vs-nevus"))
    assert p.tolist() == [0.5]


def test_mass_outside_the_task_does_not_change_its_ranking(taxonomy: Taxonomy) -> None:
    """Moving probability between classes outside the task leaves the task score unchanged."""
    moved = FINE[0].copy()
    moved[[1, 3]] = moved[[3, 1]]  # swap bcc (0.10) and df (0.05)
    task = taxonomy.task("melanoma-vs-nevus")
    assert taxonomy.task_probability(moved, task) == pytest.approx(
        taxonomy.task_probability(FINE[0], task)
    )


def test_scc_trains_as_akiec_and_counts_as_carcinoma(taxonomy: Taxonomy) -> None:
    task = taxonomy.task("carcinoma-vs-keratosis")
    assert taxonomy.diagnoses["scc"].training_class == "akiec"
    assert task.truth("scc") == 1
    assert task.truth("bkl") == 0
    assert task.truth("mel") is None


def test_aliases_normalise_to_codes(taxonomy: Taxonomy) -> None:
    assert taxonomy.normalise(" Melanoma ") == "mel"
    assert taxonomy.normalise("seborrheic keratosis") == "bkl"
    assert taxonomy.normalise("nevus") == "nv"
    with pytest.raises(TaxonomyError, match="unknown diagnosis"):
        taxonomy.normalise("psoriasis")


def test_custom_task_from_a_mapping(taxonomy: Taxonomy) -> None:
    task = taxonomy.task_from_mapping(
        {"name": "bcc-vs-nevus", "positive": ["basal cell carcinoma"], "negative": ["nv"]}
    )
    p = taxonomy.task_probability(FINE[0], task)
    np.testing.assert_allclose(p, [0.10 / 0.35])


def test_custom_task_refuses_sides_sharing_a_training_class(taxonomy: Taxonomy) -> None:
    with pytest.raises(TaxonomyError, match="share training class"):
        taxonomy.task_from_mapping({"name": "x", "positive": ["scc"], "negative": ["akiec"]})


def test_task_from_file_reports_the_file(taxonomy: Taxonomy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"name": "t", "positive": ["mel"]}))
    with pytest.raises(TaxonomyError, match="missing field 'negative'"):
        taxonomy.task_from_file(path)


def test_probabilities_of_the_wrong_width_are_refused(taxonomy: Taxonomy) -> None:
    with pytest.raises(TaxonomyError, match="expected probabilities of shape"):
        taxonomy.inference_probabilities(np.ones((2, 6)) / 6)
