"""Fixtures of real skin-lesion data for the classifier tests (read from ../shared/data)."""

from __future__ import annotations

import pytest
import torch

from classifier import DEFAULT_CHECKPOINT, DEFAULT_SPLIT
from classifier.data import Case, read_ham10000, read_split
from classifier.taxonomy import Taxonomy, load_taxonomy
from tests.support.lesion_data import HAM10000, SHARED

# Tests time nothing, but the CPU is shared: keep torch to the two cores CI has.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def ham_cases(taxonomy: Taxonomy) -> list[Case]:
    if not SHARED.exists():
        pytest.skip("../shared (the real HAM10000 images) is not checked out here")
    return read_ham10000(HAM10000, taxonomy)


@pytest.fixture(scope="session")
def heldout_cases(ham_cases: list[Case]) -> list[Case]:
    """The shipped model's held-out test images (lesions it never trained on)."""
    split = read_split(DEFAULT_SPLIT)
    return [c for c in ham_cases if split[c.image_id] == "test"]


@pytest.fixture(scope="session")
def shipped_predictor():  # type: ignore[no-untyped-def]
    from classifier.predictor import Predictor

    return Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", precision="fp32")
