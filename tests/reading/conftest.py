"""Actors of the reading tests: studies of real cases and enrolled readers."""

from __future__ import annotations

import pytest

from readerstudy.studies.models import Study
from tests.support.realcases import real_study


@pytest.fixture
def real_cases_study(db: None) -> Study:
    return real_study(5)
