"""What a coordinator meets on the study page in Chromium: refusals, closing, readers."""

from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from readerstudy.studies.models import Case, Study
from readerstudy.studies.services import enrolment_create, study_status_set
from tests.factories import CaseFactory
from tests.support.browser import browser_login, in_first_screen
from tests.support.imports import import_set
from tests.support.ingest import ham_subset, read_csv, stored_files, write_csv
from tests.support.worker import purge_queues, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_refused_upload_is_a_banner_at_the_top_of_the_page(
    page, coordinator, make_study, tmp_path, artifacts
) -> None:
    study = make_study(name="Banner study")
    browser_login(page, "coordinator")
    page.goto(f"/studies/{study.pk}/")
    page.get_by_role("button", name="Upload and import").click()
    banner = page.get_by_role("alert")
    banner.wait_for()
    assert "The upload was refused" in banner.inner_text()
    assert "Upload a zip, or a manifest together with its image files." in banner.inner_text()
    assert in_first_screen(page, banner)

    not_a_zip = tmp_path / "images.zip"
    not_a_zip.write_text("image_id,dx\n")
    page.get_by_label("Zip with images and manifest").set_input_files(str(not_a_zip))
    page.get_by_role("button", name="Upload and import").click()
    page.get_by_role("alert").get_by_text("not a zip file").wait_for()
    assert in_first_screen(page, page.get_by_role("alert"))
    page.screenshot(path=str(artifacts / "studies-refused-upload.png"))
    # A status of 400 is what the page answers; the browser logs it, nothing else went wrong.
    page.problems[:] = [p for p in page.problems if "status of 400" not in p]


def test_closing_asks_first_can_be_undone_and_a_readers_old_link_says_closed(
    page, coordinator, reader_a, make_study, artifacts
) -> None:
    study = make_study(name="Closing study")
    CaseFactory(study=study, diagnosis="mel")
    CaseFactory(study=study, diagnosis="nv")
    enrolment_create(study=study, reader=reader_a)
    study_status_set(study=study, status=Study.Status.OPEN)

    browser_login(page, "coordinator")
    page.goto(f"/studies/{study.pk}/")
    readers = page.get_by_role("table", name="Enrolled readers and their progress")
    assert "0 of 2" in readers.inner_text() and "never" in readers.inner_text()
    page.get_by_role("heading", name="To remind: 1 reader not finished").wait_for()
    reminder = page.locator(".reminder-list").inner_text()
    assert reminder.startswith("reader_a") and reminder.endswith(": 0 of 2, not started")
    page.get_by_role("button", name="Close the study").click()
    page.get_by_role("heading", name="Close “Closing study”?").wait_for()
    assert page.get_by_text("R01 (reader_a) has answered 0 of 2 cases.").is_visible()
    page.screenshot(path=str(artifacts / "studies-close-confirm.png"))
    page.get_by_role("link", name="Cancel, keep it open").click()
    page.get_by_role("button", name="Close the study").wait_for()
    study.refresh_from_db()
    assert study.status == Study.Status.OPEN

    page.get_by_role("button", name="Close the study").click()
    page.get_by_role("button", name="Close the study").click()  # the confirmation page's
    page.get_by_role("button", name="Reopen for grading").wait_for()
    study.refresh_from_db()
    assert study.status == Study.Status.CLOSED

    page.get_by_role("button", name="Log out").click()
    browser_login(page, "reader_a")
    page.goto(f"/reading/studies/{study.pk}/")
    page.get_by_role("heading", name="This study is closed").wait_for()

    page.get_by_role("button", name="Log out").click()
    browser_login(page, "coordinator")
    page.goto(f"/studies/{study.pk}/")
    page.get_by_role("button", name="Reopen for grading").click()
    page.get_by_text("The study is now open for grading.").wait_for()
    study.refresh_from_db()
    assert study.status == Study.Status.OPEN


def test_a_coordinator_undoes_an_import_and_deletes_the_draft(
    page, coordinator, make_study, ham_sample, tmp_path, artifacts
) -> None:
    study = make_study(
        "carcinoma-vs-keratosis", name="Draft in Chromium", require_biopsy_proven=False
    )
    images, manifest = ham_subset(ham_sample, tmp_path, count=4)
    job = import_set(study, images, manifest).job
    before = stored_files()

    browser_login(page, "coordinator")
    page.goto(f"/studies/{study.pk}/")
    page.get_by_role("button", name=f"Undo import {job.pk}").click()
    page.get_by_role("heading", name=f"Undo import {job.pk}?").wait_for()
    page.get_by_role("button", name="Undo the import").click()
    page.get_by_text(f"Import {job.pk} undone: 4 cases removed.").wait_for()
    assert not Case.objects.filter(study=study).exists()
    assert len(before - stored_files()) >= 4

    page.get_by_role("button", name="Delete this draft").click()
    page.get_by_role("heading", name="Delete “Draft in Chromium”?").wait_for()
    page.screenshot(path=str(artifacts / "studies-delete-confirm.png"))
    page.get_by_role("button", name="Delete the study").click()
    page.get_by_text("Study “Draft in Chromium” deleted.").wait_for()
    assert not Study.objects.filter(pk=study.pk).exists()


@pytest.mark.worker
def test_a_diagnosis_typo_and_a_broken_image_are_reported_together_with_a_suggestion(
    page, coordinator, make_study, isic_demo, tmp_path, worker_log_dir, artifacts
) -> None:
    header, rows = read_csv(isic_demo / "metadata.csv")
    rows = rows[:5]
    rows[1]["diagnosis"] = "melanom"
    archive = tmp_path / "isic-set.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for number, row in enumerate(rows):
            name = f"images/{row['isic_id']}.jpg"
            if number == 3:
                bundle.writestr(name, b"not an image at all")
            else:
                bundle.write(isic_demo / "images" / f"{row['isic_id']}.jpg", name)
        manifest = write_csv(
            tmp_path / "metadata.csv", header, [[r[h] for h in header] for r in rows]
        )
        bundle.write(manifest, "metadata.csv")
    study = make_study(name="Typo study", require_biopsy_proven=False)
    purge_queues(["default"])

    browser_login(page, "coordinator")
    page.goto(f"/studies/{study.pk}/")
    with running_worker(worker_log_dir, queues=["default"]) as worker:
        page.get_by_label("Zip with images and manifest").set_input_files(str(archive))
        page.get_by_role("button", name="Upload and import").click()
        try:
            page.get_by_role("heading", name="2 problems to fix").wait_for(timeout=120_000)
        except PlaywrightTimeout:
            pytest.fail("the import did not finish:\n" + worker.log())
    problems = page.get_by_role("table", name="Problems that stopped the import").inner_text()
    assert "unknown diagnosis 'melanom': did you mean melanoma?" in problems
    assert "unreadable image ISIC_" in problems
    assert "named by no row" not in page.content()
    page.screenshot(path=str(artifacts / "studies-import-typo.png"), full_page=True)
