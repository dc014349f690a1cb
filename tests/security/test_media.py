"""Case images reach only those who may see them, and never as anything but an image.

An image URL answers 404 to anonymous callers and to signed-in users outside the case's study
(readers not enrolled in it, coordinators of other studies), exactly as for a case that does
not exist. Stored files are never reachable as plain media URLs. Every image served carries
``X-Content-Type-Options: nosniff`` with its real content type and no file name.
"""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from readerstudy.analysis.models import SaliencyMap
from readerstudy.studies.models import Study
from tests.support.world import (
    ADMIN,
    ANALYST,
    COORDINATOR,
    OTHER_COORDINATOR,
    READER_A,
    READER_B,
    World,
)

pytestmark = pytest.mark.django_db
NO_SUCH_CASE = "00000000-0000-4000-8000-000000000000"


def reader_urls(public_id: object) -> list[str]:
    return [
        f"/reading/images/{public_id}/",
        f"/reading/images/{public_id}/full/",
        f"/reading/images/{public_id}/thumbnail/",
    ]


def coordinator_urls(study_id: int, public_id: object) -> list[str]:
    return [
        f"/studies/{study_id}/cases/{public_id}/{variant}/"
        for variant in ("display", "full", "thumbnail")
    ]


def analysis_urls(public_id: object) -> list[str]:
    return [
        *(f"/analysis/cases/{public_id}/image/{v}/" for v in ("display", "full", "thumbnail")),
        f"/analysis/cases/{public_id}/saliency/",
    ]


def every_image_url(study: Study, public_id: object) -> list[str]:
    return reader_urls(public_id) + coordinator_urls(study.pk, public_id) + analysis_urls(public_id)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_anonymous_callers_get_404_for_every_image_url_real_or_not(world: World) -> None:
    anonymous = Client()
    case = world.cases[0]
    urls = every_image_url(world.study, case.public_id) + every_image_url(world.study, NO_SUCH_CASE)
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 404, url
        assert "Location" not in response, url
        assert str(case.public_id).encode() not in body(response)


def test_stored_files_are_never_served_as_plain_media(world: World) -> None:
    case = world.cases[0]
    saliency = SaliencyMap.objects.get(case=case)
    names = [case.image.name, case.display_image.name, case.thumbnail.name, saliency.overlay.name]
    for actor in (None, COORDINATOR, ADMIN):
        client = Client() if actor is None else world.client(actor)
        for name in names:
            assert client.get(f"/media/{name}").status_code == 404, (actor, name)


def test_readers_outside_the_study_get_404_for_its_images(world: World) -> None:
    reader_b = world.client(READER_B)
    for url in reader_urls(world.cases[0].public_id):
        assert reader_b.get(url).status_code == 404, url
    reader_a = world.client(READER_A)
    for url in reader_urls(world.other_cases[0].public_id):
        assert reader_a.get(url).status_code == 404, url
    # Nor do the coordinator's or analyst's image routes serve readers.
    for url in coordinator_urls(world.study.pk, world.cases[0].public_id) + analysis_urls(
        world.cases[0].public_id
    ):
        assert reader_a.get(url).status_code == 404, url


def test_coordinators_of_another_study_get_404_whichever_study_the_url_names(
    world: World,
) -> None:
    other = world.client(OTHER_COORDINATOR)
    case = world.cases[0]
    own_study = world.other_study.pk
    for url in (
        coordinator_urls(world.study.pk, case.public_id)
        # Their own study's id with a case of another study: still nothing.
        + coordinator_urls(own_study, case.public_id)
        + analysis_urls(case.public_id)
        + reader_urls(case.public_id)
    ):
        assert other.get(url).status_code == 404, url
    # The same routes do serve their own study's case.
    mine = world.other_cases[0].public_id
    assert other.get(f"/studies/{own_study}/cases/{mine}/display/").status_code == 200


@pytest.mark.parametrize("status", [Study.Status.DRAFT, Study.Status.CLOSED])
def test_an_enrolled_reader_gets_no_grading_image_once_the_study_is_not_open(
    world: World, status: str
) -> None:
    Study.objects.filter(pk=world.study.pk).update(status=status)
    reader_a = world.client(READER_A)
    display, full, thumbnail = reader_urls(world.cases[0].public_id)
    assert reader_a.get(display).status_code == 404
    assert reader_a.get(full).status_code == 404
    # The feedback page of a closed study still shows thumbnails to its readers.
    expected = 200 if status == Study.Status.CLOSED else 404
    assert reader_a.get(thumbnail).status_code == expected


def served_images(world: World) -> list[tuple[str, str]]:
    """(actor, url) of every image route each role may use, for a case of study S."""
    case = world.cases[0]
    return (
        [(READER_A, url) for url in reader_urls(case.public_id)]
        + [(COORDINATOR, url) for url in coordinator_urls(world.study.pk, case.public_id)]
        + [(ANALYST, url) for url in analysis_urls(case.public_id)]
        + [(ADMIN, url) for url in analysis_urls(case.public_id)]
    )


def test_every_served_image_says_nosniff_with_its_real_type_and_no_file_name(
    world: World,
) -> None:
    for actor, url in served_images(world):
        response = world.client(actor).get(url)
        data = body(response)
        assert response.status_code == 200, (actor, url)
        assert response["X-Content-Type-Options"] == "nosniff", (actor, url)
        assert "Content-Disposition" not in response, (actor, url)
        directives = {d.strip().split("=")[0] for d in response["Cache-Control"].split(",")}
        assert "private" in directives and "public" not in directives, (actor, url)
        expected = {"image/jpeg": "JPEG", "image/png": "PNG"}[response["Content-Type"]]
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == expected, (actor, url)


def case_images(world: World) -> list[tuple[str, str]]:
    """served_images without the saliency map (an analysis figure, not a stored case image)."""
    return [(actor, url) for actor, url in served_images(world) if "/saliency/" not in url]


def test_case_images_stay_in_the_users_own_browser_for_good(world: World) -> None:
    # An image URL names a case's random public id and a variant, and a stored image is never
    # rewritten: the browser need not ask again, and no shared cache may keep it.
    for actor, url in case_images(world):
        response = world.client(actor).get(url)
        assert response.status_code == 200, (actor, url)
        assert response["Cache-Control"] == "private, max-age=31536000, immutable", (actor, url)
        assert "Cookie" in response["Vary"], (actor, url)


@pytest.mark.parametrize("accel", ["nginx", "sendfile"])
def test_behind_a_web_server_django_checks_access_and_names_the_stored_file(
    world: World, settings, accel: str
) -> None:
    settings.READERSTUDY_MEDIA_ACCEL = accel
    case = world.cases[0]
    stored = {"": case.display_image, "full/": case.image, "thumbnail/": case.thumbnail}
    reader_a = world.client(READER_A)
    for suffix, field in stored.items():
        response = reader_a.get(f"/reading/images/{case.public_id}/{suffix}")
        assert response.status_code == 200, suffix
        assert body(response) == b"", suffix
        if accel == "nginx":
            assert response["X-Accel-Redirect"] == "/protected-media/" + field.name
            assert "X-Sendfile" not in response
        else:
            assert response["X-Sendfile"] == field.path
            assert "X-Accel-Redirect" not in response
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    for actor, url in case_images(world):
        assert world.client(actor).get(url).status_code == 200, (actor, url)
    # The access checks are Django's as before: nothing to redirect to for anyone else.
    refused = [
        (Client(), every_image_url(world.study, case.public_id)),
        (world.client(READER_B), reader_urls(case.public_id)),
        (world.client(READER_A), reader_urls(world.other_cases[0].public_id)),
        (world.client(OTHER_COORDINATOR), coordinator_urls(world.study.pk, case.public_id)),
    ]
    for client, urls in refused:
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404, url
            assert "X-Accel-Redirect" not in response and "X-Sendfile" not in response, url
    Study.objects.filter(pk=world.study.pk).update(status=Study.Status.DRAFT)
    for url in reader_urls(case.public_id):
        response = reader_a.get(url)
        assert response.status_code == 404, url
        assert "X-Accel-Redirect" not in response and "X-Sendfile" not in response, url


def test_behind_nginx_a_missing_file_is_404_as_before(world: World, settings) -> None:
    settings.READERSTUDY_MEDIA_ACCEL = "nginx"
    case = world.cases[0]
    case.display_image.storage.delete(case.display_image.name)
    response = world.client(READER_A).get(f"/reading/images/{case.public_id}/")
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response
