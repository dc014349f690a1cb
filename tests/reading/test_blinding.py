"""Blinding: truth, diagnosis, source ids and original file names never reach a reader.

Every case carries unique canary strings in its diagnosis label, source id, original file name
and lesion id, and its original image carries them in EXIF, a JPEG comment and XMP. A reader
then goes through everything the reading package offers (pages, API, images, scripts, styles,
headers, URLs) and none of it may contain a canary, a source id or a diagnosis.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client
from PIL import Image

from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import SaliencyMap
from readerstudy.scoring.saliency import saliency_map_compute
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.design import scheme_builtin
from readerstudy.studies.models import Case
from readerstudy.studies.services import study_status_set
from tests.factories import StudyFactory, cnn_scores_create
from tests.support.reading import enrol
from tests.support.realcases import (
    DX_LABELS,
    TASK,
    biopsy_proven_originals,
    real_cases_add,
    with_canary,
)

CANARY = "CANARY7f3a9c"


def original_with_canary_metadata(path, canary: str) -> bytes:
    with Image.open(path) as image:
        exif = image.getexif()
        exif[0x010E] = f"{canary}-EXIF-description"  # ImageDescription
        exif[0x013B] = f"{canary}-EXIF-artist"  # Artist
        buffer = io.BytesIO()
        xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{canary}-XMP</x:xmpmeta>'.encode()
        image.save(buffer, format="JPEG", exif=exif, comment=f"{canary}-COMMENT", xmp=xmp)
    data = buffer.getvalue()
    assert data.count(canary.encode()) >= 3, "the canary must really be in the original file"
    return data


def received_everything(
    client: Client, study, answer: dict[str, object] | None = None
) -> list[tuple[str, bytes]]:
    """Walk the whole reading flow as the reader, keeping every response body and header;
    every case gets ``answer`` (a management answer unless given)."""
    answer = answer or {"decision": "biopsy", "confidence": 50}
    seen: list[tuple[str, bytes]] = []

    def keep(url: str, response) -> None:
        body = (
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False)
            else response.content
        )
        headers = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
        seen.append((url, url.encode() + b"\n" + headers + b"\n" + body))

    def get(url: str, **kwargs):
        response = client.get(url, **kwargs)
        keep(url, response)
        return response

    get("/")
    get("/reading/")
    get("/api/v1/reading/studies/")
    while True:
        page = get(f"/reading/studies/{study.pk}/", follow=True)
        html = page.content.decode()
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            get(asset)
        served = get(f"/api/v1/reading/studies/{study.pk}/next/").json()
        if served["finished"]:
            break
        case = served["case"]
        for url in (case["image_url"], case["full_image_url"], served["upcoming_image_url"]):
            if url:
                get(url)
        get(f"/reading/images/{case['id']}/thumbnail/")
        response = client.post(
            f"/api/v1/reading/studies/{study.pk}/decisions/",
            {"token": case["token"], **answer, "active_ms": 10},
            content_type="application/json",
        )
        keep("submit", response)
        get(f"/api/v1/reading/studies/{study.pk}/progress/")
    get(f"/reading/studies/{study.pk}/finished/")
    get("/api/v1/reading/studies/")
    return seen


@pytest.mark.django_db
def test_a_canary_in_truth_ids_names_and_image_metadata_never_reaches_a_reader(
    reader_a, reader_a_client
):
    study = StudyFactory(
        task=TASK,
        show_clinical_info=True,
        allow_answer_changes=True,
        show_feedback=False,
        task_definition={
            "name": TASK,
            "label": "Malignant or benign",
            "positive": [],
            "negative": [],
        },
    )
    canary_cases(study, 4)
    enrol(study, reader_a)
    cases = list(Case.objects.filter(study=study))
    assert all(CANARY in case.source_id and CANARY in case.diagnosis_label for case in cases)

    received = received_everything(reader_a_client, study)

    assert len(received) > 20
    forbidden = [CANARY.encode()]
    for case in cases:
        forbidden += [
            case.source_id.encode(),
            case.source_filename.encode(),
            case.lesion_id.encode(),
            case.diagnosis_label.encode(),
            case.image.name.encode(),
            case.display_image.name.encode(),
            case.pixel_sha256.encode(),
        ]
    forbidden += [original.path.stem.encode() for original in biopsy_proven_originals(4)]
    for url, data in received:
        for needle in forbidden:
            assert needle not in data, f"{needle!r} reached the reader in {url}"
    # Nor does anything name a diagnosis or carry a truth field (the answer fields of the
    # diagnosis question, empty in this management study, are the only "diagnosis" words).
    text = b"\n".join(data for url, data in received if not url.startswith("/reading/images/"))
    text = text.replace(b'"diagnosis_class"', b"").replace(b'"diagnosis_confidence"', b"")
    for word in [label.encode() for label in DX_LABELS.values()] + [b'"truth"', b"diagnosis"]:
        assert word not in text, word


def canary_cases(study, n: int) -> list[Case]:
    """``n`` real cases in ``study``, each with canaries in its ids, names, diagnosis label and
    image metadata."""
    originals = [
        with_canary(original, f"{CANARY}{k}")
        for k, original in enumerate(biopsy_proven_originals(n))
    ]
    return real_cases_add(
        study,
        originals,
        original_bytes=[
            original_with_canary_metadata(o.path, f"{CANARY}{k}") for k, o in enumerate(originals)
        ],
    )


def questions_drawn(html: str) -> str:
    """The questions as the grading page draws them (its question sections)."""
    sections = re.findall(r'<section class="question-block".*?</section>', html, flags=re.S)
    assert sections, "the grading page draws its questions"
    return "\n".join(sections)


@pytest.mark.django_db
def test_a_diagnosis_study_shows_every_case_the_same_classes_and_nothing_of_its_truth(
    reader_a, reader_a_client
):
    scheme = scheme_builtin("ham7")
    study = StudyFactory(
        task=TASK,
        design="diagnosis",
        diagnosis_scheme=scheme.to_dict(),
        ask_diagnosis_confidence=True,
        allow_answer_changes=True,
        show_feedback=False,
    )
    cases = canary_cases(study, 4)
    assert len({scheme.class_of(case.diagnosis) for case in cases}) > 1, "cases of several classes"
    enrol(study, reader_a)

    received = received_everything(
        reader_a_client, study, {"diagnosis_class": "nv", "diagnosis_confidence": 50}
    )

    forbidden = [CANARY.encode()]
    for case in cases:
        forbidden += [case.source_id.encode(), case.diagnosis_label.encode()]
        forbidden += [case.source_filename.encode(), case.lesion_id.encode()]
    for url, data in received:
        for needle in forbidden:
            assert needle not in data, f"{needle!r} reached the reader in {url}"
        assert b'"truth"' not in data, url
    # Every case's grading page offers the same classes in the same order: the questions drawn
    # and the settings JSON are the same byte for byte on every case.
    pages = [
        data.decode()
        for url, data in received
        if b'id="decision-form"' in data and "/api/" not in url
    ]
    assert len(pages) == len(cases)
    assert len({questions_drawn(html) for html in pages}) == 1
    settings = {
        re.search(r'<script id="study-settings"[^>]*>(.*?)</script>', html, flags=re.S).group(1)
        for html in pages
    }
    assert len(settings) == 1
    assert [c["value"] for c in json.loads(settings.pop())["questions"][0]["choices"]] == list(
        scheme.codes
    )
    # What changes from case to case (the served case, in the page and from the API) names no
    # class at all: no truth class, and no answer before the reader gives one.
    served = [
        re.search(r'<script id="serving-data"[^>]*>(.*?)</script>', html, flags=re.S).group(1)
        for html in pages
    ]
    served += [
        data[data.index(b'{"finished"') :].decode()
        for url, data in received
        if url.endswith("/next/")
    ]
    for body in served:
        for code in scheme.codes:
            assert f'"{code}"' not in body, body


@pytest.mark.django_db
def test_served_images_are_re_encoded_without_the_originals_metadata(reader_a, reader_a_client):
    study = StudyFactory(task=TASK)
    original = biopsy_proven_originals(1)[0]
    data = original_with_canary_metadata(original.path, CANARY)
    real_cases_add(study, [with_canary(original, CANARY)], original_bytes=[data])
    enrol(study, reader_a)
    case = study.cases.get()
    for variant in ("", "full/", "thumbnail/"):
        response = reader_a_client.get(f"/reading/images/{case.public_id}/{variant}")
        body = b"".join(response.streaming_content)
        image = Image.open(io.BytesIO(body))
        assert not image.getexif(), variant
        assert not {"comment", "xmp", "exif", "icc_profile"} & set(image.info), variant
        assert body != data


@pytest.mark.django_db
def test_in_an_aided_study_the_cnn_output_reaches_a_reader_only_in_the_aided_phase(
    reader_a, reader_a_client
):
    """The rule of AI-assisted reading, crawled: every page, API answer and image of an
    unaided step is free of the CNN's output, its Grad-CAM map included (not linked, and its
    address answers 404); each aided step carries its case's output and map; no step carries
    a canary."""
    study = StudyFactory(
        task=TASK,
        task_definition=load_taxonomy().task(TASK).to_dict(),
        status="draft",
        ai_assistance="sequential",
        ai_show_saliency=True,
    )
    cases = canary_cases(study, 4)
    probabilities = [0.8137, 0.0719, 0.4477, 0.6623]
    cnn_scores_create(
        cases, model_version_active_get(TASK), probabilities, [[0.0, 1.0]] * len(cases)
    )
    study = study_status_set(study=study, status="open", acknowledged_by=study.created_by)
    enrol(study, reader_a)
    shown = {
        str(c.public_id): f"{p:.3f}".encode() for c, p in zip(cases, probabilities, strict=True)
    }

    steps = {"unaided": 0, "aided": 0}
    while True:
        page = reader_a_client.get(f"/reading/studies/{study.pk}/", follow=True)
        served = reader_a_client.get(f"/api/v1/reading/studies/{study.pk}/next/")
        item = served.json()
        if item["finished"]:
            break
        case = item["case"]
        images = [
            reader_a_client.get(case["image_url"]),
            reader_a_client.get(case["full_image_url"]),
        ]
        bodies = [page.content, served.content, *(b"".join(i.streaming_content) for i in images)]
        phase = case["phase"]
        steps[phase] += 1
        saliency_url = f"/reading/images/{case['id']}/saliency/"
        if phase == "unaided":
            assert reader_a_client.get(saliency_url).status_code == 404
            # Drawn now, so that the aided step finds it and the crawl reads its bytes.
            saliency_map_compute(
                saliency_map_id=SaliencyMap.objects.get(case__public_id=case["id"]).pk
            )
            assert reader_a_client.get(saliency_url).status_code == 404
        else:
            assert case["ai"]["saliency_url"] == saliency_url
            saliency = reader_a_client.get(saliency_url)
            assert saliency.status_code == 200
            bodies.append(b"".join(saliency.streaming_content))
        for body in bodies:
            assert CANARY.encode() not in body
        if phase == "unaided":
            for body in bodies:
                assert b"/saliency/" not in body
                for probability in shown.values():
                    assert probability not in body, f"the CNN's {probability!r} in an unaided step"
            assert case["ai"] is None
        else:
            assert shown[case["id"]] in page.content and shown[case["id"]] in served.content
        reader_a_client.post(
            f"/api/v1/reading/studies/{study.pk}/decisions/",
            {"token": case["token"], "decision": "biopsy", "confidence": 50},
            content_type="application/json",
        )
    assert steps == {"unaided": 4, "aided": 4}
