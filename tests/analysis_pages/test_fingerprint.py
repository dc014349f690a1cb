"""The analyses' cache key (``study_fingerprint``): a study rebuilt in a recreated database
repeats the old one's id, counts and last ids, and must still not find the old one's
memoised analysis."""

from __future__ import annotations

from datetime import timedelta

import pytest

from readerstudy.analysis.selectors import study_fingerprint
from readerstudy.studies.models import Study
from tests.support.reading import synthetic_study

pytestmark = pytest.mark.django_db


def test_a_study_rebuilt_with_the_same_id_and_rows_gets_another_fingerprint() -> None:
    study = synthetic_study(3)
    first = study_fingerprint(study, None)
    assert study_fingerprint(Study.objects.get(pk=study.pk), None) == first  # stable
    # The same id, cases and decisions, created at another moment: what a rebuilt demo or
    # test database holds while Redis still keeps the analyses memoised for the old one.
    Study.objects.filter(pk=study.pk).update(
        created_at=study.created_at + timedelta(microseconds=1)
    )
    assert study_fingerprint(Study.objects.get(pk=study.pk), None) != first
