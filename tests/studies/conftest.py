"""Real image sets from ../shared/data, studies to import them into, and file helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from readerstudy.studies.models import Study
from readerstudy.studies.services import study_create, task_resolve
from tests.support.env import shared_data


@pytest.fixture
def isic_demo() -> Path:
    return shared_data("isic-uda1-demo")


@pytest.fixture
def ham_sample() -> Path:
    """70 HAM10000 images at 600x450 (10 per diagnosis) with their metadata."""
    return shared_data("ham10000-fullres-sample")


@pytest.fixture
def ham_full() -> Path:
    return shared_data("ham10000")


@pytest.fixture
def make_study(coordinator) -> Callable[..., Study]:
    def make(task: str = "melanoma-vs-nevus", **fields: object) -> Study:
        fields.setdefault("name", f"{task} study")
        fields.setdefault("modality", "dermoscopic")
        fields.setdefault("created_by", coordinator)
        return study_create(task=task_resolve(name=task), **fields)

    return make
