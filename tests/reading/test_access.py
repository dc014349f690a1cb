"""Who may grade what: enrolled readers in open studies only; everything else is a 404 (users
without the Reader role included), and images come with safe headers."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import api_token_regenerate
from readerstudy.reading.models import Decision
from tests.factories import UserFactory
from tests.support.reading import enrol, next_case, submit, synthetic_study


@pytest.fixture
def two_readers(reader_a, reader_b, reader_a_client, reader_b_client):
    study = synthetic_study(3)
    enrol(study, reader_a)
    enrol(study, reader_b)
    return study


@pytest.mark.django_db
def test_reader_b_cannot_use_reader_a_token(two_readers, reader_a_client, reader_b_client):
    study = two_readers
    token = next_case(reader_a_client, study)["case"]["token"]
    assert submit(reader_b_client, study, token).status_code == 404
    page = reader_b_client.post(
        f"/reading/studies/{study.pk}/", {"token": token, "decision": "biopsy", "confidence": 5}
    )
    assert page.status_code == 404
    assert Decision.objects.count() == 0


@pytest.mark.django_db
def test_a_reader_gets_404_for_a_study_they_are_not_enrolled_in(reader_a, reader_a_client):
    other = synthetic_study(2)
    for url in (
        f"/reading/studies/{other.pk}/",
        f"/reading/studies/{other.pk}/finished/",
        f"/api/v1/reading/studies/{other.pk}/next/",
        f"/api/v1/reading/studies/{other.pk}/progress/",
    ):
        assert reader_a_client.get(url).status_code == 404, url
    case = other.cases.first()
    assert reader_a_client.get(f"/reading/images/{case.public_id}/").status_code == 404
    assert reader_a_client.get(f"/reading/images/{case.public_id}/full/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["draft", "closed"])
def test_studies_that_are_not_open_cannot_be_graded(reader_a, reader_a_client, status):
    study = synthetic_study(2)
    enrol(study, reader_a)
    served = next_case(reader_a_client, study)["case"]
    study.status = status
    study.save()
    page = reader_a_client.get(f"/reading/studies/{study.pk}/", follow=True)
    if status == "draft":
        assert page.status_code == 404
    else:  # an old link to a closed study says so
        assert page.redirect_chain == [(f"/reading/studies/{study.pk}/finished/", 302)]
        assert "This study is closed" in page.content.decode()
    refused = submit(reader_a_client, study, served["token"])
    if status == "draft":
        assert refused.status_code == 404
    else:  # a grading page left open when the study closed is told why its answer is refused
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith("This study has been closed")
    assert not Decision.objects.filter(enrolment__study=study).exists()
    assert reader_a_client.get(served["image_url"]).status_code == 404
    home = reader_a_client.get("/reading/").content.decode()
    assert (study.name in home) == (status == "closed")
    assert reader_a_client.get("/api/v1/reading/studies/").json() == (
        [] if status == "draft" else reader_a_client.get("/api/v1/reading/studies/").json()
    )


@pytest.mark.django_db
def test_coordinators_and_analysts_are_not_readers(coordinator_client, analyst_client, reader_a):
    study = synthetic_study(1)
    enrol(study, reader_a)
    for client in (coordinator_client, analyst_client):
        assert client.get("/reading/").status_code == 404
        assert client.get(f"/reading/studies/{study.pk}/").status_code == 404
        assert client.get(f"/api/v1/reading/studies/{study.pk}/next/").status_code == 404
    assert Client().get(f"/api/v1/reading/studies/{study.pk}/next/").status_code == 401
    assert Client().get(f"/reading/studies/{study.pk}/").status_code == 302


@pytest.mark.django_db
def test_a_coordinator_enrolled_as_a_reader_grades_like_any_reader():
    both = UserFactory(username="coord_reader", roles=[Role.COORDINATOR, Role.READER])
    study = synthetic_study(1)
    enrol(study, both)
    client = Client()
    client.force_login(both)
    served = next_case(client, study)
    assert submit(client, study, served["case"]["token"]).status_code == 201


@pytest.mark.django_db
def test_images_are_served_by_opaque_id_with_nosniff_and_the_real_type(
    reader_a, reader_a_client, real_cases_study
):
    enrol(real_cases_study, reader_a)
    served = next_case(reader_a_client, real_cases_study)["case"]
    for url in (served["image_url"], served["full_image_url"]):
        response = reader_a_client.get(url)
        body = b"".join(response.streaming_content)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "Content-Disposition" not in response
        assert Image.open(io.BytesIO(body)).format == "JPEG"
    full = Image.open(
        io.BytesIO(b"".join(reader_a_client.get(served["full_image_url"]).streaming_content))
    )
    assert full.size == (600, 450)


@pytest.mark.django_db
def test_an_api_client_opens_the_image_urls_the_api_returns_with_its_token(
    reader_a, reader_b, real_cases_study
):
    enrol(real_cases_study, reader_a)
    token = api_token_regenerate(user=reader_a).key
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    body = next_case(client, real_cases_study)
    for url in (body["case"]["image_url"], body["case"]["full_image_url"]):
        response = client.get(url)
        assert response.status_code == 200, url
        assert Image.open(io.BytesIO(b"".join(response.streaming_content))).format == "JPEG"
    url = body["case"]["image_url"]
    # A wrong token, or the token of a reader not enrolled, opens nothing.
    assert Client(HTTP_AUTHORIZATION="Token not-a-token").get(url).status_code == 404
    other = api_token_regenerate(user=reader_b).key
    assert Client(HTTP_AUTHORIZATION=f"Token {other}").get(url).status_code == 404


@pytest.mark.django_db
def test_reader_home_lists_progress_and_a_resume_button(reader_a, reader_a_client):
    study = synthetic_study(4, name="Melanoma panel")
    enrol(study, reader_a)
    for _ in range(2):
        submit(reader_a_client, study, next_case(reader_a_client, study)["case"]["token"])
    home = reader_a_client.get("/reading/").content.decode()
    assert "Melanoma panel" in home
    assert "2 of 4 cases answered" in home
    assert "Resume at case 3" in home
    assert f'href="/reading/studies/{study.pk}/"' in home
    listed = reader_a_client.get("/api/v1/reading/studies/").json()
    assert listed[0]["progress"] == {"done": 2, "total": 4, "finished": False}
    assert reader_a_client.get(f"/api/v1/reading/studies/{study.pk}/progress/").json() == {
        "done": 2,
        "total": 4,
        "finished": False,
    }
    assert 'href="/reading/"' in reader_a_client.get("/").content.decode()
