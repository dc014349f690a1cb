"""The demo's simulated panel comes with profiles, a mix of positions and experience bands, so
that the analysis page has subgroup lines to show."""

from __future__ import annotations

import pytest

from readerstudy.demo.study import SIMULATED_PROFILES, demo_panel_ensure
from readerstudy.studies.models import ReaderProfile
from tests.support.reading import synthetic_study


@pytest.mark.django_db
def test_the_simulated_panel_has_a_profile_of_each_position(coordinator):
    study = synthetic_study(12, created_by=coordinator)
    assert demo_panel_ensure(study=study, n_readers=9, coordinator=coordinator) == 9
    profiles = ReaderProfile.objects.filter(enrolment__study=study, enrolment__simulated=True)
    assert profiles.count() == 9
    assert set(profiles.values_list("position", flat=True)) == {
        "attending",
        "resident",
        "other_physician",
        "non_physician",
    }
    assert set(profiles.values_list("experience", flat=True)) == {"<3", "3-10", ">10"}
    first = profiles.get(enrolment__pseudonym="R01")
    assert (first.position, first.board_certified, first.experience) == SIMULATED_PROFILES[0]
