import pytest
from django.db import IntegrityError

from tests.factories import CaseFactory, EnrolmentFactory, StudyFactory


@pytest.mark.django_db
def test_two_cases_of_a_study_cannot_share_pixels() -> None:
    study = StudyFactory()
    CaseFactory(study=study, pixel_sha256="a" * 64)
    with pytest.raises(IntegrityError):
        CaseFactory(study=study, pixel_sha256="a" * 64)


@pytest.mark.django_db
def test_a_reader_is_enrolled_once_per_study_with_a_stable_seed() -> None:
    enrolment = EnrolmentFactory()
    assert enrolment.order_seed > 0
    with pytest.raises(IntegrityError):
        EnrolmentFactory(study=enrolment.study, reader=enrolment.reader)
