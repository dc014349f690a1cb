"""Planning the next study: ``plan_study --study`` on a stored pilot, and the coordinator's
planning page (upload or study, power curves, tables, exports) through Django and Chromium."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core import signing
from django.core.management import CommandError, call_command

from tests.support.a11y import AXE, accessibility_violations
from tests.support.graded import build_graded_study
from tests.support.session import logged_in

pytestmark = pytest.mark.django_db

VAN_DYKE_FORM = {"alpha": "0.05", "power": "0.8", "analysis": "rrrc", "cases": "111,251"}


@pytest.fixture
def vandyke_csv(refdata):
    return refdata / "vandyke" / "dataset02_ratings.csv"


def _plan_file(tmp_path, *args: str) -> dict:
    out = tmp_path / "plan.json"
    call_command("plan_study", *args, "--readers", "3:8", "--effect", "0.08", "--json", str(out))
    return json.loads(out.read_text())


def test_a_study_pilot_plans_as_its_own_exported_ratings(graded_study, analyst_client, tmp_path):
    # The study's pilot is the CNN against its readers; the long-CSV export of the same
    # ratings, planned with --algorithm CNN, must give the same plan.
    study, _, _ = graded_study
    from_study = _plan_file(tmp_path, "--study", str(study.pk))
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(analyst_client.get(f"/analysis/studies/{study.pk}/export/ratings/").content)
    from_file = _plan_file(tmp_path, "--ratings", str(ratings), "--algorithm", "CNN")
    assert from_study["design"] == "algorithm-vs-readers"
    assert from_study["comparison"] == "readers - CNN"
    assert from_study["pilot"]["readers"] == 6 and from_study["pilot"]["cases"] == 60
    assert from_study["pilot"] == pytest.approx(from_file["pilot"], rel=1e-12)
    assert from_study["variance_components"] == pytest.approx(
        from_file["variance_components"], rel=1e-12
    )
    powers = [row["power"] for row in from_study["table"]]
    assert powers == pytest.approx([row["power"] for row in from_file["table"]], rel=1e-12)
    assert from_study["cases_needed"] == from_file["cases_needed"]
    assert any(k is not None for k in from_study["cases_needed"].values())


def test_a_study_without_two_complete_readers_cannot_be_a_pilot(coordinator, coordinator_client):
    study, _, _ = build_graded_study(coordinator=coordinator, n_readers=1)
    response = coordinator_client.post(
        "/analysis/planning/",
        {**VAN_DYKE_FORM, "readers_min": "3", "readers_max": "5", "study": str(study.pk)},
    )
    assert response.context["form"].non_field_errors() == [
        f"study {study.pk}: a pilot needs two readers who graded all 60 scored cases; 1 did"
    ]
    with pytest.raises(CommandError, match="a pilot needs two readers who graded all 60"):
        call_command("plan_study", "--study", str(study.pk))
    with pytest.raises(CommandError, match="--algorithm can only be CNN"):
        call_command("plan_study", "--study", str(study.pk), "--algorithm", "R01")
    with pytest.raises(CommandError, match="--study 999999: no such study"):
        call_command("plan_study", "--study", "999999")


def _upload(client, path, **fields):
    with open(path, "rb") as handle:
        return client.post(
            "/analysis/planning/",
            {**VAN_DYKE_FORM, "readers_min": "6", "readers_max": "6", **fields, "ratings": handle},
        )


def test_a_coordinator_plans_from_an_uploaded_file_and_exports_the_plan(
    coordinator_client, vandyke_csv
):
    response = _upload(coordinator_client, vandyke_csv)
    assert response.status_code == 200
    plan = response.context["plan"]
    assert plan["source"] == "dataset02_ratings.csv"
    assert plan["cases_needed"] == {"6": 251}
    assert plan["table"][0]["power"] == pytest.approx(0.5526116, abs=5e-8)
    html = response.content.decode()
    assert "0.553" in html and ">251<" in html
    token = response.context["token"]
    exported = coordinator_client.post("/analysis/planning/export/json/", {"plan": token})
    assert exported["Content-Disposition"] == 'attachment; filename="plan.json"'
    assert json.loads(exported.content) == plan
    table = coordinator_client.post("/analysis/planning/export/csv/", {"plan": token})
    rows = list(csv.DictReader(io.StringIO(table.content.decode())))
    assert [(r["readers"], r["cases"], r["cases_needed"]) for r in rows] == [
        ("6", "111", "251"),
        ("6", "251", "251"),
    ]
    assert float(rows[0]["power"]) == pytest.approx(0.5526116, abs=5e-7)


def test_an_export_of_a_changed_plan_is_refused(coordinator_client):
    forged = signing.dumps({"table": [], "cases_needed": {}}, salt="someone else")
    response = coordinator_client.post("/analysis/planning/export/csv/", {"plan": forged})
    assert response.status_code == 400
    assert b"plan again" in response.content


def test_a_bad_file_is_named_with_its_row_and_field(coordinator_client, tmp_path):
    bad = tmp_path / "pilot.csv"
    bad.write_text("reader,modality,case,truth,rating\nr,m,1,yes,3\n")
    response = _upload(coordinator_client, bad)
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1 and errors[0].startswith("pilot.csv, row 2, field 'truth'")
    assert str(tmp_path) not in response.content.decode()
    assert "plan" not in response.context


def test_the_form_asks_for_exactly_one_pilot(coordinator_client, graded_study, vandyke_csv):
    study, _, _ = graded_study
    both = _upload(coordinator_client, vandyke_csv, study=str(study.pk))
    assert "one of the two" in both.context["form"].non_field_errors()[0]
    neither = coordinator_client.post(
        "/analysis/planning/", {**VAN_DYKE_FORM, "readers_min": "3", "readers_max": "5"}
    )
    assert "one of the two" in neither.context["form"].non_field_errors()[0]


def test_a_coordinator_may_plan_only_from_studies_they_can_see(
    graded_study, other_coordinator, reader_a_client
):
    study, _, _ = graded_study
    other = logged_in(other_coordinator)
    response = other.post(
        "/analysis/planning/",
        {**VAN_DYKE_FORM, "readers_min": "3", "readers_max": "5", "study": str(study.pk)},
    )
    assert "study" in response.context["form"].errors
    assert study.name not in other.get("/analysis/planning/").content.decode()
    assert reader_a_client.get("/analysis/planning/").status_code == 404
    assert reader_a_client.post("/analysis/planning/export/csv/", {"plan": ""}).status_code == 404


def test_a_study_pilot_is_offered_from_its_analysis_page(graded_study, coordinator_client):
    study, _, _ = graded_study
    page = coordinator_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert f"/analysis/planning/?study={study.pk}" in page
    form = coordinator_client.get(f"/analysis/planning/?study={study.pk}").context["form"]
    assert str(form["study"].value()) == str(study.pk)
    response = coordinator_client.post(
        "/analysis/planning/",
        {**VAN_DYKE_FORM, "readers_min": "3", "readers_max": "12", "study": str(study.pk)},
    )
    plan = response.context["plan"]
    assert plan["design"] == "algorithm-vs-readers"
    assert list(plan["cases_needed"]) == [str(j) for j in range(3, 13)]
    assert len(response.context["figure"]["data"]) == 3  # two case counts and the target


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_draws_power_curves_and_downloads_the_table_in_chromium(
    page, coordinator, password, vandyke_csv, artifacts
) -> None:
    page.add_init_script(path=str(AXE))
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("coordinator")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.get_by_role("link", name="Planning").click()
    page.get_by_label("or a pilot ratings file").set_input_files(str(vandyke_csv))
    page.get_by_label("Readers from").fill("3")
    page.get_by_label("Readers to").fill("10")
    page.get_by_label("Case counts for the curves").fill("111,251,400")
    page.get_by_role("button", name="Plan").click()
    page.wait_for_selector("#power-figure .main-svg")
    # One line per case count and the dashed target.
    assert page.locator("#power-figure .scatterlayer .trace").count() == 4
    assert page.get_by_text("111 cases").first.is_visible()
    needed = page.locator("table.cases-needed tbody tr", has_text="251")
    assert needed.first.locator("td").first.inner_text() == "6"
    assert page.locator("table.power-table tbody tr").count() == 8
    assert accessibility_violations(page) == []
    page.screenshot(path=str(artifacts / "planning-page.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Power table (CSV)").click()
    lines = open(download.value.path()).read().splitlines()  # noqa: SIM115
    assert lines[0] == "readers,cases,power,cases_needed"
    assert len(lines) == 1 + 8 * 3
    assert "6,111,0.552612,251" in lines
