"""Blinding, by canary: nothing a reader can reach carries anything of a case's truth.

A study is imported through the real ingest path (``study_import`` with a zip, as an upload
would be) from real HAM10000 images. Each case carries a unique canary string in its source
id, lesion id, confirmation, folder and file name, and in its original image's EXIF
(ImageDescription, Artist, Copyright), XMP packet and JPEG comment; the zip and manifest names
carry one too. A diagnosis must be a taxonomy name, so each case's manifest names it by an
alias used nowhere else ("atypical melanocytic proliferation", ...), searched for in every
response that is not an image; JSON answers may not even name a truth field.

Reader A then crawls everything reachable from the start page (links, form actions, data
attributes, URLs in JSON, scripts and stylesheets, redirects), answers every case through the
API and through the page form, and crawls again after finishing and after the study is
closed; Chromium loads and grades on the real grading page as well. Not one response body,
header or URL may contain a canary, and image URLs hold nothing but a random case id.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import uuid
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import Resolver404, resolve
from PIL import Image

from readerstudy.studies.models import Case, ImportJob, Study
from readerstudy.studies.services import (
    ImportOptions,
    ImportSource,
    enrolment_create,
    study_create,
    study_import,
    study_status_set,
    task_resolve,
)
from tests.factories import PASSWORD
from tests.support.realcases import biopsy_proven_originals

N_CASES = 6
# One alias per fine diagnosis that appears in no page, script or schema of the platform.
RARE_ALIAS = {
    "mel": "melanoma in situ",
    "nv": "atypical melanocytic proliferation",
    "bcc": "basal cell carcinoma",
    "akiec": "squamous cell carcinoma in situ",
    "scc": "invasive squamous cell carcinoma",
    "bkl": "lichenoid keratosis",
    "df": "dermatofibroma",
    "vasc": "pyogenic granuloma",
}
# Fields of a case that no JSON answer to a reader may even name.
TRUTH_KEYS = frozenset(
    {
        "diagnosis",
        "diagnosis_label",
        "truth",
        "biopsy_proven",
        "confirmation",
        "source_id",
        "source_filename",
        "lesion_id",
        "pixel_sha256",
    }
)
IMAGE_URL = re.compile(r"/reading/images/(?P<id>[0-9a-f-]{36})/(?:full/|thumbnail/)?")
LINK_ATTRIBUTE = re.compile(r'(?:href|src|action|data-[\w-]+)\s*=\s*"([^"]*)"')
JSON_SCRIPT = re.compile(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', re.S)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")
QUOTED_PATH = re.compile(r"[\"'](/[\w\-./?=&%]*)[\"']")


@dataclass
class Secrets:
    """Everything of the study's truth and provenance that must never reach a reader."""

    canary: str
    anywhere: list[bytes] = field(default_factory=list)
    in_text: list[str] = field(default_factory=list)


def canary_image(source: Path, target: Path, canary: str) -> None:
    exif = Image.Exif()
    exif[0x010E] = f"{canary}-EXIF-DESCRIPTION"  # ImageDescription
    exif[0x013B] = f"{canary}-EXIF-ARTIST"  # Artist
    exif[0x8298] = f"{canary}-EXIF-COPYRIGHT"  # Copyright
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>'
        f"{canary}-XMP</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    with Image.open(source) as image:
        image.save(
            target, "JPEG", quality=92, exif=exif.tobytes(), xmp=xmp, comment=f"{canary}-COMMENT"
        )
    data = target.read_bytes()
    for where in ("EXIF-DESCRIPTION", "EXIF-ARTIST", "EXIF-COPYRIGHT", "XMP", "COMMENT"):
        assert f"{canary}-{where}".encode() in data, f"the {where} canary is not in the original"


def canary_upload(folder: Path, canary: str) -> Path:
    """A zip of real images and their manifest, canaries in every name, id and metadata."""
    rows = []
    archive = folder / f"{canary}-UPLOAD.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for n, original in enumerate(biopsy_proven_originals(N_CASES)):
            mark = f"{canary}-{n}"
            image = folder / f"{mark}-FILE.jpg"
            canary_image(original.path, image, mark)
            member = f"{mark}-FOLDER/{image.name}"
            bundle.write(image, member)
            rows.append(
                {
                    "image": member,
                    "diagnosis": RARE_ALIAS[original.dx],
                    "case_id": f"{mark}-SOURCE-ID",
                    "biopsy_proven": "true",
                    "confirmation": f"histopathology {mark}-CONFIRMATION",
                    "lesion_id": f"{mark}-LESION",
                    "age": original.age or "",
                    "sex": original.sex,
                    "site": original.site,
                }
            )
        manifest = io.StringIO()
        writer = csv.DictWriter(manifest, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        bundle.writestr(f"{canary}-MANIFEST.csv", manifest.getvalue())
    return archive


def canary_study(folder: Path, coordinator: User, reader: User) -> tuple[Study, Secrets]:
    canary = f"CANARY{secrets.token_hex(5).upper()}"
    archive = canary_upload(folder, canary)
    study = study_create(
        name="Blinded panel",
        task=task_resolve(name="malignant-vs-benign"),
        modality="dermoscopic",
        created_by=coordinator,
        allow_answer_changes=True,
        show_clinical_info=True,
        show_feedback=False,
    )
    study_import(
        study=study,
        source=ImportSource(images=archive, images_name=archive.name),
        options=ImportOptions(),
        created_by=coordinator,
    )
    # Several diagnoses of a few images each: their colours differ, and the confound audit
    # says so; this test is about blinding, so the coordinator acknowledges it.
    study = study_status_set(study=study, status=Study.Status.OPEN, acknowledged_by=coordinator)
    enrolment_create(study=study, reader=reader, enrolled_by=coordinator)

    found = Secrets(canary=canary, anywhere=[canary.encode()])
    cases = list(study.cases.all())
    assert len(cases) == N_CASES
    for case in cases:
        assert canary in case.source_id and canary in case.source_filename
        assert canary in case.lesion_id and canary in case.confirmation
        stored = [case.image.name, case.display_image.name, case.thumbnail.name]
        found.anywhere += [
            value.encode() for value in (case.source_id, case.lesion_id, case.pixel_sha256, *stored)
        ]
        found.anywhere += [Path(name).stem.encode() for name in stored]
        found.in_text.append(case.diagnosis_label)
        assert case.diagnosis_label == RARE_ALIAS[case.diagnosis]
    job = ImportJob.objects.get(study=study)
    found.anywhere += [job.token.encode()]
    found.anywhere += [o.image_id.encode() for o in biopsy_proven_originals(N_CASES)]
    return study, found


@dataclass(frozen=True)
class Received:
    url: str
    status: int
    content_type: str
    headers: str
    body: bytes

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def everything(self) -> bytes:
        return "\n".join([self.url, self.headers]).encode() + b"\n" + self.body

    def json(self) -> object:
        return json.loads(self.body)


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def keys_in(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_in(item)


def same_site_path(base: str, reference: str) -> str | None:
    """The path (and query) ``reference`` points to on this site, if it is a page of it."""
    target = urlsplit(urljoin(f"http://testserver{base}", unescape(reference.strip())))
    if target.scheme not in ("http", "https") or target.netloc not in ("testserver", ""):
        return None
    if not target.path.startswith(settings.STATIC_URL):
        try:
            resolve(target.path)
        except Resolver404:
            return None
    return target.path + (f"?{target.query}" if target.query else "")


class Crawler:
    """A reader's browsing, as the Django test client: every response kept, links followed."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.received: list[Received] = []
        self.static_done: set[str] = set()

    def keep(self, url: str, response) -> Received:
        body = (
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False)
            else response.content
        )
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        got = Received(url, response.status_code, response.get("Content-Type", ""), headers, body)
        self.received.append(got)
        return got

    def get(self, url: str) -> Received:
        return self.keep(url, self.client.get(url))

    def post(self, url: str, data: dict, **kwargs: object) -> Received:
        return self.keep(url, self.client.post(url, data, **kwargs))

    def links(self, got: Received) -> Iterator[str]:
        references: list[str] = []
        if 300 <= got.status < 400:
            references += [
                line.split(": ", 1)[1]
                for line in got.headers.splitlines()
                if line.startswith("Location: ")
            ]
        text = got.body.decode("utf-8", "replace") if not got.is_image else ""
        if "html" in got.content_type:
            references += LINK_ATTRIBUTE.findall(text)
            for block in JSON_SCRIPT.findall(text):
                references += strings_in(json.loads(unescape(block)))
        elif "json" in got.content_type:
            references += strings_in(got.json())
        elif "css" in got.content_type:
            references += CSS_URL.findall(text)
        elif "javascript" in got.content_type:
            references += QUOTED_PATH.findall(text)
        for reference in references:
            path = same_site_path(got.url, reference)
            if path is not None:
                yield path

    def crawl(self, *start: str, limit: int = 400) -> None:
        visited: set[str] = set()
        queue = deque(start)
        while queue and len(visited) < limit:
            url = queue.popleft()
            if url in visited or url in self.static_done:
                continue
            visited.add(url)
            got = self.get(url)
            if url.startswith(settings.STATIC_URL):
                self.static_done.add(url)
            queue.extend(self.links(got))


READER_PROFILE = {"position": "resident", "board_certified": "no", "experience": "<3"}


def grade_everything_while_crawling(crawler: Crawler, study: Study) -> None:
    """Crawl, answer the served case (by API and by page form in turn), until finished; then
    crawl the finished study, and once more after the coordinator closed it."""
    grade_page = f"/reading/studies/{study.pk}/"
    # The study asks for the reader's profile first: the crawler meets the form, then gives it.
    crawler.crawl("/", "/reading/", grade_page)
    crawler.post(f"{grade_page}profile/", READER_PROFILE)
    for turn in range(N_CASES + 1):
        crawler.crawl("/", "/reading/", grade_page)
        served = crawler.get(f"/api/v1/reading/studies/{study.pk}/next/").json()
        assert isinstance(served, dict)
        if served["finished"]:
            break
        case = served["case"]
        crawler.get(f"/reading/images/{case['id']}/thumbnail/")
        answer = {"token": case["token"], "decision": "biopsy", "confidence": 40 + turn}
        if turn % 2:
            crawler.post(grade_page, {**answer, "active_ms": "900"})
        else:
            crawler.post(
                f"/api/v1/reading/studies/{study.pk}/decisions/",
                answer,
                content_type="application/json",
            )
    else:
        pytest.fail("the reader never finished the study")
    crawler.crawl("/", f"/reading/studies/{study.pk}/finished/", f"{grade_page}back/")
    study_status_set(study=study, status=Study.Status.CLOSED)
    crawler.crawl("/", "/reading/", f"/reading/studies/{study.pk}/finished/")


def leaks(data: bytes, found: Secrets, *, text: bool) -> list[str]:
    hits = [needle.decode() for needle in found.anywhere if needle and needle in data]
    if text:
        lowered = data.decode("utf-8", "replace").lower()
        hits += [label for label in found.in_text if label.lower() in lowered]
    return hits


def context(data: bytes, needle: str) -> str:
    at = data.lower().find(needle.lower().encode())
    return data[max(0, at - 60) : at + 60].decode("utf-8", "replace") if at >= 0 else ""


def assert_opaque_image(url: str, case_ids: set[str]) -> None:
    match = IMAGE_URL.fullmatch(urlsplit(url).path)
    assert match, f"an image came from {url}, which is not an opaque case image URL"
    assert match["id"] in case_ids, url
    assert uuid.UUID(match["id"]).version == 4, f"{url}: not a random id"
    assert not urlsplit(url).query, f"{url}: an image URL with a query"


@pytest.mark.django_db
def test_a_reader_who_crawls_everything_finds_no_canary(
    tmp_path: Path, coordinator: User, reader_a: User, reader_a_client: Client
) -> None:
    study, found = canary_study(tmp_path, coordinator, reader_a)
    case_ids = {str(case.public_id) for case in Case.objects.filter(study=study)}
    crawler = Crawler(reader_a_client)

    grade_everything_while_crawling(crawler, study)

    received = crawler.received
    urls = {got.url for got in received}
    assert len(received) > 100
    assert {f"/reading/images/{c}/{v}" for c in case_ids for v in ("", "full/")} <= urls
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    assert f"/api/v1/reading/studies/{study.pk}/previous/" in urls, "data-* URLs were followed"
    assert f"/reading/studies/{study.pk}/profile/" in urls
    assert all(got.status < 500 for got in received)
    problems = []
    for got in received:
        data = got.everything()
        for hit in leaks(data, found, text=not got.is_image):
            problems.append(f"{hit!r} reached the reader in {got.url}: …{context(data, hit)}…")
        if "json" in got.content_type and got.status < 300:
            named = TRUTH_KEYS & set(keys_in(got.json()))
            if named:
                problems.append(f"{got.url} names {sorted(named)}")
        if got.is_image and not got.url.startswith(settings.STATIC_URL):
            assert_opaque_image(got.url, case_ids)
            if got.content_type == "image/jpeg":
                for marker in (b"Exif\x00\x00", b"ns.adobe.com/xap", b"\xff\xfe"):
                    assert marker not in got.body, f"{marker!r} in {got.url}"
    assert not problems, "\n".join(problems)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_grading_page_in_chromium_loads_and_sends_no_canary(
    page, tmp_path: Path, coordinator: User, reader_a: User
) -> None:
    from playwright.sync_api import Error as PlaywrightError

    study, found = canary_study(tmp_path, coordinator, reader_a)
    case_ids = {str(case.public_id) for case in Case.objects.filter(study=study)}
    responses = []
    page.on("response", lambda response: responses.append(response))

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("reader_a")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.goto(f"/reading/studies/{study.pk}/")
    page.get_by_label("Resident in dermatology").check()
    page.get_by_label("No", exact=True).check()
    page.get_by_label("Less than 3 years").check()
    page.get_by_role("button", name="Save and start").click()
    page.get_by_role("heading", name=f"Case 1 of {N_CASES}").wait_for()
    page.get_by_role("button", name="Full resolution").click()
    page.wait_for_function(
        "() => { const i = document.getElementById('case-image');"
        " return i.currentSrc.endsWith('/full/') && i.complete && i.naturalWidth > 0; }"
    )
    page.locator("label[for=decision-biopsy]").click()
    page.get_by_label("Confidence (0\u2013100)").fill("70")
    page.get_by_role("button", name="Submit answer").click()
    page.get_by_role("heading", name=f"Case 2 of {N_CASES}").wait_for()
    page.wait_for_function("() => document.getElementById('case-image').complete")
    page.wait_for_load_state("networkidle")

    seen = [page.content()]
    seen.append(
        page.evaluate(
            """() => JSON.stringify({cookie: document.cookie, local: {...localStorage},
                 session: {...sessionStorage}, title: document.title,
                 resources: performance.getEntriesByType('resource').map(e => e.name)})"""
        )
    )
    problems = [
        f"{hit!r} in the page" for text in seen for hit in leaks(text.encode(), found, text=True)
    ]
    image_urls = []
    for response in responses:
        headers = "\n".join(f"{k}: {v}" for k, v in response.all_headers().items())
        body = b""
        if not 300 <= response.status < 400:
            try:
                body = response.body()
            except PlaywrightError:  # a prefetch the page dropped
                body = b""
        is_image = response.request.resource_type == "image"
        data = f"{response.url}\n{headers}\n".encode() + body
        for hit in leaks(data, found, text=not is_image):
            problems.append(f"{hit!r} reached Chromium in {response.url}")
        path = urlsplit(response.url).path
        if is_image and not path.startswith(settings.STATIC_URL):
            image_urls.append(path)
            assert_opaque_image(path, case_ids)
    assert not problems, "\n".join(problems)
    assert len(image_urls) >= 3, image_urls  # case 1 display and full, case 2 (and the next)
    api_calls = [r.url for r in responses if "/api/v1/reading/" in r.url]
    assert api_calls, "the page graded through the API"
