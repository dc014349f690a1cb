"""A study with CNN scores and a reader panel, stored through the platform's own services."""

from __future__ import annotations

import pytest

from tests.support.graded import build_graded_study


@pytest.fixture
def graded_study(coordinator):
    return build_graded_study(coordinator=coordinator)
