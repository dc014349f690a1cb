from __future__ import annotations

import pytest

from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(coordinator):
    return StudyFactory(created_by=coordinator)


def test_coordinators_of_the_study_and_analysts_see_scoring_progress(
    study, coordinator_client, analyst_client
) -> None:
    for client in (coordinator_client, analyst_client):
        response = client.get(f"/scoring/studies/{study.pk}/progress.json")
        assert response.status_code == 200
        assert response.json()["total"] == 0
        assert client.get(f"/api/v1/scoring/studies/{study.pk}/").status_code == 200


def test_readers_and_other_coordinators_get_404_for_scoring(
    study, reader_a_client, other_coordinator
) -> None:
    from tests.support.session import logged_in

    for client in (reader_a_client, logged_in(other_coordinator)):
        assert client.get(f"/scoring/studies/{study.pk}/progress.json").status_code == 404
        assert client.post(f"/scoring/studies/{study.pk}/score/").status_code == 404
        assert client.get(f"/api/v1/scoring/studies/{study.pk}/").status_code == 404
        assert client.post(f"/api/v1/scoring/studies/{study.pk}/").status_code == 404


def test_analysts_cannot_start_scoring(study, analyst_client) -> None:
    assert analyst_client.post(f"/scoring/studies/{study.pk}/score/").status_code == 404
    assert analyst_client.post(f"/api/v1/scoring/studies/{study.pk}/").status_code == 404


def test_the_study_page_shows_its_scoring_progress_with_working_buttons(
    study, coordinator_client
) -> None:
    # The scoring section comes from the scoring package's template tag (studies does not
    # import scoring); its forms post with the page's CSRF token and come back to the page.
    response = coordinator_client.get(f"/studies/{study.pk}/")
    page = response.content.decode()
    assert 'id="scoring"' in page
    assert "0 of 0 cases scored" in page
    assert f'action="/scoring/studies/{study.pk}/score/"' in page
    section = page.split('id="scoring"')[1].split("</section>")[0]
    assert 'name="csrfmiddlewaretoken"' in section
    assert f'name="next" value="/studies/{study.pk}/"' in section
