"""A coordinator sets up a study in Chromium: create it, upload a zip, watch the import."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from readerstudy.studies.models import Study
from tests.factories import PASSWORD
from tests.support.ingest import ham_zip
from tests.support.worker import purge_queues, running_worker


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.slow
def test_a_coordinator_creates_a_study_uploads_a_zip_and_sees_the_report(
    page, coordinator, ham_sample, tmp_path, worker_log_dir, artifacts
) -> None:
    archive = ham_zip(ham_sample, tmp_path, count=12)  # 10 bkl, 2 df
    purge_queues(["default"])
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("coordinator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Studies").click()
    page.get_by_role("link", name="New study").click()

    page.get_by_label("Name").fill("Keratinocyte carcinoma, dermoscopy")
    page.get_by_label("Task", exact=True).select_option("carcinoma-vs-keratosis")
    page.get_by_label("Modality").select_option("dermoscopic")
    page.get_by_label("Every case must be biopsy-proven").uncheck()
    page.get_by_role("button", name="Create study").click()
    page.get_by_role("heading", name="Keratinocyte carcinoma, dermoscopy").wait_for()
    study = Study.objects.get()
    assert page.url.endswith(f"/studies/{study.pk}/")
    page.screenshot(path=str(artifacts / "studies-new-study.png"), full_page=True)

    with running_worker(worker_log_dir, queues=["default"]) as worker:
        page.get_by_label("Zip with images and manifest").set_input_files(str(archive))
        page.get_by_role("button", name="Upload and import").click()
        page.get_by_role("heading", name="Import", exact=False).first.wait_for()
        try:
            page.get_by_text("10 cases added").wait_for(timeout=120_000)
        except PlaywrightTimeout:
            pytest.fail("the import did not finish:\n" + worker.log())

    assert page.get_by_role("table", name="Cases per diagnosis").is_visible()
    assert page.get_by_text("outside the task: df 2").is_visible()
    page.screenshot(path=str(artifacts / "studies-import-report.png"), full_page=True)
    page.get_by_role("link", name=f"← {study.name}").click()
    thumbnails = page.get_by_role("img", name="Case 0")
    assert thumbnails.count() == 1
    thumbnails.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnails.element_handle()
    )
    page.screenshot(path=str(artifacts / "studies-detail.png"), full_page=True)
