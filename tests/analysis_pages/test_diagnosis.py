"""The diagnosis analysis of a study: its page, API and exports give the numbers of
readerstudy.stats.diagnosis (and scikit-learn's) on the answers stored in the database."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from readerstudy.accounts.services import api_token_regenerate
from readerstudy.reading.selectors import decision_final_list
from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.stats.diagnosis import (
    algorithm_vs_panel,
    diagnosis_result,
    fleiss_kappa,
    mcnemar_exact,
)
from readerstudy.studies.models import Case
from tests.factories import CaseFactory, EnrolmentFactory
from tests.support.diagnosed import (
    build_diagnosis_study,
    cnn_scores_store,
    diagnosis_study_create,
    fine_probabilities,
)
from tests.support.session import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def diagnosed(coordinator):
    return build_diagnosis_study(coordinator=coordinator)


def _stored_answers(study):
    """Each reader's last class per case and the cases' true classes, read back from the
    database independently of the analysis code."""
    answers: dict[str, dict[int, str]] = {}
    for row in decision_final_list(study):
        answers.setdefault(row["pseudonym"], {})[row["case_id"]] = row["diagnosis_class"]
    return answers


def test_the_page_numbers_equal_the_diagnosis_statistics_on_the_same_answers(
    diagnosed, analyst_client
) -> None:
    study, scheme = diagnosed.study, diagnosed.scheme
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/").json()
    codes = list(scheme.codes)
    cases = list(Case.objects.filter(study=study).order_by("position"))
    truth = {case.pk: scheme.class_of(case.diagnosis) for case in cases}
    cnn = {
        s.case_id: s.diagnosis_class
        for s in diagnosed.model_version.scores.filter(case__study=study)
    }
    answers = _stored_answers(study)
    assert body["classes"] == codes
    assert body["n_cases"] == len(cases) == 42
    assert sorted(body["readers"]) == sorted(answers) == [f"R{n:02d}" for n in range(1, 7)]
    assert body["complete_readers"] == [f"R{n:02d}" for n in range(1, 6)]
    assert body["partial_readers"] == ["R06"]
    for reader, answered in answers.items():
        ids = list(answered)
        expected = diagnosis_result([truth[i] for i in ids], [answered[i] for i in ids], codes)
        block = body["readers"][reader]
        assert block["n"] == expected.n == len(ids)
        assert block["accuracy"] == pytest.approx(expected.accuracy.estimate)
        assert block["accuracy_ci"] == pytest.approx(list(expected.accuracy.ci))
        assert block["mean_recall"] == pytest.approx(expected.mean_recall)
        assert block["confusion"] == expected.confusion.tolist()
        test = mcnemar_exact(
            [truth[i] for i in ids], [cnn[i] for i in ids], [answered[i] for i in ids], codes
        )
        assert body["algorithm_vs_readers"]["mcnemar_p"][reader] == pytest.approx(test.p)
    order = [case.pk for case in cases]
    complete = [[answers[r][i] for i in order] for r in body["complete_readers"]]
    assert body["fleiss_kappa"] == pytest.approx(fleiss_kappa(complete, codes).kappa)
    versus = algorithm_vs_panel(
        [truth[i] for i in order], [cnn[i] for i in order], np.array(complete, dtype=object), codes
    )
    block = body["algorithm_vs_readers"]
    assert block["algorithm_accuracy"] == pytest.approx(versus.algorithm_accuracy)
    assert block["reader_mean_accuracy"] == pytest.approx(versus.reader_mean_accuracy)
    assert block["diff"] == pytest.approx(versus.diff)
    assert block["diff_ci"] == pytest.approx(list(versus.diff_ci))
    # The page prints the difference of two accuracies in percent, as the accuracies.
    page = analyst_client.get(f"/analysis/studies/{study.pk}/diagnosis/").content.decode()
    low, high = (f"{100 * bound:.1f}%" for bound in versus.diff_ci)
    assert (
        f"{100 * versus.algorithm_accuracy:.1f}% \u2212 {100 * versus.reader_mean_accuracy:.1f}% = "
        f"{100 * versus.diff:.1f}%"
    ) in page
    assert (f"{low} to {high}" if low.startswith("-") else f"{low[:-1]}\u2013{high}") in page
    assert body["algorithm"]["name"] == "CNN"
    cnn_result = diagnosis_result([truth[i] for i in order], [cnn[i] for i in order], codes)
    assert body["algorithm"]["confusion"] == cnn_result.confusion.tolist()
    # The average reader and the pooled matrix are those of the complete readers by default.
    average = body["average_reader"]
    assert average["n_readers"] == 5
    assert average["accuracy"] == pytest.approx(
        np.mean([body["readers"][r]["accuracy"] for r in body["complete_readers"]])
    )
    assert (
        body["pooled_confusion"]
        == np.sum(
            [body["readers"][r]["confusion"] for r in body["complete_readers"]], axis=0
        ).tolist()
    )


def test_a_tiny_hand_made_study_gives_scikit_learns_numbers(coordinator, analyst_client) -> None:
    study, scheme, task = diagnosis_study_create(coordinator=coordinator)
    diagnoses = ["mel", "mel", "nv", "nv", "bcc", "bkl"]
    cases = [CaseFactory(study=study, diagnosis=d, truth=d in task.positive) for d in diagnoses]
    cnn = ["mel", "nv", "nv", "nv", "bcc", "mel"]
    readers = {
        "R01": ["mel", "mel", "nv", "mel", "bkl", "bkl"],
        "R02": ["nv", "mel", "nv", "nv", "bcc", "bkl"],
    }
    rng = np.random.default_rng(0)
    model_version = model_version_active_get(study.task)
    cnn_scores_store(
        cases,
        model_version,
        [fine_probabilities(d, a, rng) for d, a in zip(diagnoses, cnn, strict=True)],
        task,
    )
    for pseudonym, labels in readers.items():
        enrolment = EnrolmentFactory(study=study, pseudonym=pseudonym, simulated=True)
        decision_record_simulated(
            enrolment=enrolment,
            answers=[
                SimulatedAnswer(case_id=case.pk, diagnosis_class=label)
                for case, label in zip(cases, labels, strict=True)
            ],
        )
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/").json()
    codes = list(scheme.codes)
    for name, labels in [*readers.items(), ("CNN", cnn)]:
        block = body["algorithm"] if name == "CNN" else body["readers"][name]
        assert block["accuracy"] == pytest.approx(accuracy_score(diagnoses, labels))
        assert block["mean_recall"] == pytest.approx(balanced_accuracy_score(diagnoses, labels))
        assert block["confusion"] == confusion_matrix(diagnoses, labels, labels=codes).tolist()
    # By hand: R01 is right on 4 of 6, R02 on 5 of 6, the CNN on 4 of 6; the classes present
    # are bcc, bkl, mel, nv, so R01's mean recall is (0 + 1 + 1 + 1/2) / 4.
    assert body["readers"]["R01"]["accuracy"] == pytest.approx(4 / 6)
    assert body["readers"]["R02"]["accuracy"] == pytest.approx(5 / 6)
    assert body["algorithm"]["accuracy"] == pytest.approx(4 / 6)
    assert body["readers"]["R01"]["mean_recall"] == pytest.approx(2.5 / 4)
    assert body["algorithm_vs_readers"]["diff"] == pytest.approx(4 / 6 - 9 / 12)
    # Discordant with R02: case 1 (only the CNN right), cases 2 and 6 (only R02 right).
    assert body["algorithm_vs_readers"]["mcnemar"]["R02"] == {
        "n": 6,
        "algorithm_only": 1,
        "reader_only": 2,
    }


def test_the_page_shows_the_table_the_figures_and_one_reader_on_demand(
    diagnosed, analyst_client
) -> None:
    study = diagnosed.study
    response = analyst_client.get(f"/analysis/studies/{study.pk}/diagnosis/?reader=R03")
    assert response.status_code == 200
    page = response.content.decode()
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/").json()
    assert 'id="cnn-row"' in page and 'id="average-reader"' in page
    assert page.count('<tr data-reader="') == 6
    assert "partial" in page and 'id="partial-readers"' in page
    accuracy = body["readers"]["R03"]["accuracy"]
    assert f"{100 * accuracy:.1f}%" in page
    assert '<option value="R03" selected>' in page
    for name in ("accuracy", "pooled", "cnn", "reader"):
        assert f'id="dx-figure-{name}"' in page
    assert "Reader R03" in page
    # plotly.js from this server, under the figure pages' strict policy.
    assert "/static/vendor/plotly/plotly.min.js" in page
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # The ROC page of the study links here.
    roc = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert f'href="/analysis/studies/{study.pk}/diagnosis/"' in roc
    # A reader name that is not one falls back to the first reader.
    fallback = analyst_client.get(f"/analysis/studies/{study.pk}/diagnosis/?reader=nobody")
    assert '<option value="R01" selected>' in fallback.content.decode()


def test_partial_readers_count_in_the_average_reader_only_when_asked(
    diagnosed, analyst_client
) -> None:
    url = f"/api/v1/analysis/studies/{diagnosed.study.pk}/diagnosis/"
    default = analyst_client.get(url).json()
    included = analyst_client.get(url + "?partial=1").json()
    assert default["average_reader"]["n_readers"] == 5
    assert included["average_reader"]["n_readers"] == 6
    assert included["average_reader"]["accuracy"] == pytest.approx(
        np.mean([block["accuracy"] for block in included["readers"].values()])
    )
    # The bootstrap and Fleiss' kappa need every reader on every case, whatever is asked.
    assert included["algorithm_vs_readers"] == default["algorithm_vs_readers"]
    assert included["fleiss_kappa"] == default["fleiss_kappa"]
    page = analyst_client.get(f"/analysis/studies/{diagnosed.study.pk}/diagnosis/?partial=1")
    assert "Average reader (6)" in page.content.decode()


def test_readers_and_other_coordinators_get_404_and_strangers_no_answer(
    diagnosed, reader_a_client, other_coordinator, coordinator
) -> None:
    study = diagnosed.study
    urls = (
        f"/analysis/studies/{study.pk}/diagnosis/",
        f"/api/v1/analysis/studies/{study.pk}/diagnosis/",
        f"/analysis/studies/{study.pk}/export/diagnosis/",
        f"/api/v1/analysis/studies/{study.pk}/exports/diagnosis/",
    )
    for client in (reader_a_client, logged_in(other_coordinator)):
        for url in urls:
            assert client.get(url).status_code == 404, url
    anonymous = Client()
    assert anonymous.get(urls[0]).status_code == 302
    assert anonymous.get(urls[1]).status_code in (401, 403)
    for url in urls:
        assert logged_in(coordinator).get(url).status_code == 200, url


def test_a_management_study_has_no_diagnosis_analysis(graded_study, analyst_client) -> None:
    study, _, _ = graded_study
    for url in (
        f"/analysis/studies/{study.pk}/diagnosis/",
        f"/api/v1/analysis/studies/{study.pk}/diagnosis/",
        f"/analysis/studies/{study.pk}/export/diagnosis/",
    ):
        assert analyst_client.get(url).status_code == 404, url
    assert (
        "/diagnosis/" not in analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    )


def test_export_report_writes_the_diagnosis_json_of_the_api(diagnosed, analyst, tmp_path) -> None:
    study = diagnosed.study
    out = tmp_path / "diagnosis.json"
    call_command("export_report", study.pk, "--format", "diagnosis", "--out", str(out))
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_regenerate(user=analyst).key}")
    api = client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/").json()
    assert json.loads(out.read_text()) == api
    exported = client.get(f"/api/v1/analysis/studies/{study.pk}/exports/diagnosis/")
    assert exported["Content-Disposition"].endswith('diagnosis.json"')
    assert json.loads(exported.content) == api
    named = client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/?identities=1").json()
    assert sorted(named["readers"]) == [f"dx{n}" for n in range(1, 7)]


def test_export_report_refuses_a_diagnosis_export_of_a_management_study(
    graded_study, tmp_path
) -> None:
    from django.core.management.base import CommandError

    study, _, _ = graded_study
    with pytest.raises(CommandError, match="asks no diagnosis"):
        call_command(
            "export_report", study.pk, "--format", "diagnosis", "--out", str(tmp_path / "x")
        )


def _csv_rows(client, study):
    response = client.get(f"/analysis/studies/{study.pk}/export/csv/")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_decisions_csv_ends_with_the_true_class(
    diagnosed, graded_study, analyst_client
) -> None:
    study, scheme = diagnosed.study, diagnosed.scheme
    rows = _csv_rows(analyst_client, study)
    header = list(rows[0])
    assert header[-1] == "true_class"
    assert header.index("diagnosis_class") < header.index("true_class")
    answers = _stored_answers(study)
    public = {str(case.public_id): case for case in diagnosed.cases}
    for row in rows:
        case = public[row["case"]]
        assert row["true_class"] == scheme.class_of(case.diagnosis)
        assert row["diagnosis_class"] == answers[row["reader"]][case.pk]
        assert row["decision"] == ""
    management, _, _ = graded_study
    assert {row["true_class"] for row in _csv_rows(analyst_client, management)} == {""}


def test_a_diagnosis_only_study_has_an_roc_page_with_points_but_no_mrmc(
    diagnosed, analyst_client
) -> None:
    study, scheme = diagnosed.study, diagnosed.scheme
    response = analyst_client.get(f"/analysis/studies/{study.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="mrmc-unrated"' in page and "not a confidence of malignancy" in page
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()
    analysis = body["analysis"]
    assert analysis["readers_rated"] is False
    assert analysis["mrmc"] is None
    positive = {"akiec", "bcc", "mel"}
    definition = study.task_definition
    assert scheme.positive_codes(definition["positive"], definition["negative"]) == positive
    truth = {case.pk: case.truth for case in diagnosed.cases}
    answers = _stored_answers(study)
    for row in analysis["readers"]:
        answered = answers[row["reader"]]
        said = {pk: label in positive for pk, label in answered.items()}
        hits = sum(1 for pk, b in said.items() if b and truth[pk])
        assert row["sensitivity"] == pytest.approx(hits / sum(truth[pk] for pk in said))
        assert row["auc"] is None
    # The error gallery counts the readers' positive classes as their biopsy votes.
    assert analyst_client.get(f"/analysis/studies/{study.pk}/errors/").status_code == 200
    # Every export of the ROC analysis still works.
    for fmt in ("json", "imrmc", "ratings", "html"):
        assert analyst_client.get(f"/analysis/studies/{study.pk}/export/{fmt}/").status_code == 200


def test_a_diagnosis_and_management_study_keeps_its_management_answers_on_the_roc_page(
    coordinator, analyst_client
) -> None:
    diagnosed = build_diagnosis_study(coordinator=coordinator, design="diagnosis_management")
    study = diagnosed.study
    analysis = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["analysis"]
    assert analysis["readers_rated"] is True
    assert analysis["mrmc"] is not None
    truth = {case.pk: case.truth for case in diagnosed.cases}
    decisions: dict[str, dict[int, bool]] = {}
    for row in decision_final_list(study):
        decisions.setdefault(row["pseudonym"], {})[row["case_id"]] = row["biopsy"]
    for row in analysis["readers"]:
        said = decisions[row["reader"]]
        hits = sum(1 for pk, b in said.items() if b and truth[pk])
        assert row["sensitivity"] == pytest.approx(hits / sum(truth[pk] for pk in said))
    # The diagnosis page of the same study reads the classes.
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/").json()
    assert body["n_cases"] == len(diagnosed.cases)


def test_an_api_client_fetches_the_diagnosis_analysis_with_its_token(diagnosed, analyst) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_regenerate(user=analyst).key}")
    body = client.get(f"/api/v1/analysis/studies/{diagnosed.study.pk}/diagnosis/").json()
    for key in (
        "classes",
        "readers",
        "fleiss_kappa",
        "algorithm_vs_readers",
        "complete_readers",
        "partial_readers",
        "cohen_kappa",
    ):
        assert key in body
    for key in ("algorithm_accuracy", "reader_mean_accuracy", "diff", "diff_ci", "mcnemar_p"):
        assert key in body["algorithm_vs_readers"]
    reader = body["readers"]["R01"]
    for key in ("n", "accuracy", "accuracy_ci", "mean_recall", "confusion"):
        assert key in reader


@pytest.mark.browser
def test_the_diagnosis_page_draws_its_figures_under_the_strict_policy_in_chromium(
    diagnosed, page, analyst, password, artifacts
) -> None:
    study = diagnosed.study
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("analyst")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/analysis/studies/{study.pk}/diagnosis/")
    for figure in ("#accuracy-figure", "#confusion-pooled", "#confusion-cnn"):
        page.wait_for_selector(f"{figure} .main-svg")
    # Seven classes: a 7 x 7 heatmap with a count in every cell.
    assert page.locator("#confusion-pooled .heatmaplayer").count() == 1
    assert page.locator("#confusion-cnn .heatmap-label text").count() == 49
    # One dot per reader and the CNN's line in the accuracy plot.
    assert page.locator("#accuracy-figure .scatterlayer .point").count() >= 6
    assert page.get_by_text("CNN accuracy").first.is_visible()
    # Another reader's matrix on demand: the select reloads the page for that reader.
    page.select_option("#confusion-reader", "R04")
    page.wait_for_url("**reader=R04**")
    page.wait_for_selector("#confusion-reader-figure .main-svg")
    assert page.get_by_text("Reader R04").first.is_visible()
    page.screenshot(path=str(artifacts / "diagnosis-page.png"), full_page=True)


def test_the_case_page_shows_each_readers_answer_by_the_studys_questions(
    diagnosed, graded_study, analyst_client
) -> None:
    case = diagnosed.cases[4]  # true class mel
    answers = {
        row["pseudonym"]: row["diagnosis_class"]
        for row in decision_final_list(diagnosed.study).filter(case_id=case.pk)
    }
    page = analyst_client.get(f"/analysis/cases/{case.public_id}/").content.decode()
    named = sum(label == "mel" for label in answers.values())
    assert f"{named} of {len(answers)} named the true class (mel)" in page
    assert "chose biopsy" not in page
    assert diagnosed.scheme.classes[4].label in page or "mel" not in answers.values()
    management, _, _ = graded_study
    first = management.cases.order_by("position").first()
    text = analyst_client.get(f"/analysis/cases/{first.public_id}/").content.decode()
    assert "readers chose biopsy" in text and "named the true class" not in text
    assert "confidence" in text


def test_a_diagnosis_only_study_is_no_roc_pilot_and_says_why(diagnosed) -> None:
    from readerstudy.analysis.selectors import study_pilot_get
    from readerstudy.stats.power import PlanningError

    with pytest.raises(PlanningError, match="diagnoses, not confidence ratings"):
        study_pilot_get(diagnosed.study)


def test_the_html_report_carries_the_diagnosis_analysis(diagnosed, analyst_client) -> None:
    """An analyst who exports the report of a diagnosis study gets its diagnosis tables and
    figures too, with the page's numbers, drawn offline with the report's one plotly.js."""
    study = diagnosed.study
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/diagnosis/").json()
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/").content.decode()
    assert "<h2>Diagnosis: readers and the CNN</h2>" in report
    assert 'id="diagnosis-table"' in report and 'id="cnn-vs-panel"' in report
    for name, block in body["readers"].items():
        assert f'<tr data-reader="{name}">' in report
        assert f"{100 * block['accuracy']:.1f}% (" in report
    assert f"{100 * body['algorithm']['accuracy']:.1f}%" in report
    # The confusion matrices of the readers pooled and of the CNN, none of one reader.
    assert "Readers pooled (" in report and "Reader R0" not in report
    # No form, no link back into the app, one copy of plotly.js for every figure.
    assert 'id="confusion-reader-form"' not in report and 'href="?"' not in report
    assert report.count("plotly.js v") == 1
