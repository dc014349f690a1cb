"""Manifests and the lesion-level split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from classifier import DEFAULT_SPLIT
from classifier.data import (
    Case,
    ManifestError,
    read_manifest,
    read_split,
    split_lesion_ids,
    split_lesions,
    write_split,
)
from classifier.taxonomy import Taxonomy
from tests.support.lesion_data import ISIC, needs_data

pytestmark = needs_data


def test_ham10000_manifest_has_every_image_with_its_box(ham_cases: list[Case]) -> None:
    assert len(ham_cases) == 10015
    assert len({c.lesion_id for c in ham_cases}) == 7470
    assert Counter(c.diagnosis for c in ham_cases)["mel"] == 1113
    assert sum(c.biopsy_proven for c in ham_cases) == 5340
    assert all(c.path.exists() for c in ham_cases[:50])
    box = ham_cases[0].box
    assert box is not None and 0 <= box[0] < box[2] <= 200 and 0 <= box[1] < box[3] <= 150


def test_isic_manifest_maps_legacy_diagnoses(taxonomy: Taxonomy) -> None:
    cases = read_manifest(ISIC / "metadata.csv", ISIC / "images", "isic", taxonomy)
    assert Counter(c.diagnosis for c in cases) == {"nv": 60, "mel": 30}
    assert all(c.biopsy_proven for c in cases if c.diagnosis == "mel")
    assert not any(c.biopsy_proven for c in cases if c.diagnosis == "nv")
    assert all(c.path.exists() for c in cases)


def test_manifest_of_the_wrong_format_says_which_columns_it_needs(taxonomy: Taxonomy) -> None:
    with pytest.raises(ManifestError, match="needs columns 'image_id' and 'dx'"):
        read_manifest(ISIC / "metadata.csv", ISIC / "images", "ham10000", taxonomy)


def test_split_keeps_every_lesion_in_one_part(ham_cases: list[Case]) -> None:
    assignment = split_lesions(ham_cases, seed=3)
    assert set(assignment) == {c.lesion_id for c in ham_cases}
    parts = Counter(assignment.values())
    assert parts["test"] == pytest.approx(0.15 * 7470, rel=0.02)
    assert parts["val"] == pytest.approx(0.15 * 7470, rel=0.02)


def test_split_is_stratified_by_diagnosis_and_biopsy(ham_cases: list[Case]) -> None:
    assignment = split_lesions(ham_cases, seed=3)
    lesions = {c.lesion_id: c for c in ham_cases}
    test = [lesions[lesion] for lesion, part in assignment.items() if part == "test"]
    melanomas = sum(1 for c in lesions.values() if c.diagnosis == "mel")
    biopsied_nevi = sum(1 for c in lesions.values() if c.diagnosis == "nv" and c.biopsy_proven)
    assert sum(c.diagnosis == "mel" for c in test) == pytest.approx(0.15 * melanomas, abs=1)
    assert sum(c.diagnosis == "nv" and c.biopsy_proven for c in test) == pytest.approx(
        0.15 * biopsied_nevi, abs=1
    )


def test_split_depends_on_the_seed_only(ham_cases: list[Case]) -> None:
    assert split_lesions(ham_cases, seed=3) == split_lesions(list(reversed(ham_cases)), seed=3)
    assert split_lesions(ham_cases, seed=3) != split_lesions(ham_cases, seed=4)


def test_split_file_round_trips(ham_cases: list[Case], tmp_path: Path) -> None:
    assignment = split_lesions(ham_cases, seed=3)
    write_split(tmp_path / "split.csv", ham_cases, assignment)
    by_image = read_split(tmp_path / "split.csv")
    assert by_image == {c.image_id: assignment[c.lesion_id] for c in ham_cases}
    test_lesions = {lesion for lesion, part in assignment.items() if part == "test"}
    assert split_lesion_ids(tmp_path / "split.csv", "test") == test_lesions


def test_shipped_split_covers_ham10000_with_disjoint_lesions(ham_cases: list[Case]) -> None:
    by_image = read_split(DEFAULT_SPLIT)
    assert set(by_image) == {c.image_id for c in ham_cases}
    parts = {part: split_lesion_ids(DEFAULT_SPLIT, part) for part in ("train", "val", "test")}
    assert not parts["train"] & parts["test"]
    assert not parts["train"] & parts["val"]
    assert not parts["val"] & parts["test"]
