"""The feedback page states what is true of the study's diagnoses, from how each case's
diagnosis was confirmed (the manifest's dx_type, diagnosis_confirm_type or confirmation), and
judges each answer by the study's design: the management decision against the lesion's
malignancy, the class named against the class its diagnosis maps to."""

from __future__ import annotations

import re
from html import unescape

import pytest

from readerstudy.reading.presenters import confirmation_sentence
from readerstudy.scoring.models import CnnScore
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.confirmations import confirmation_name
from readerstudy.studies.design import scheme_builtin, study_design
from readerstudy.studies.models import Case
from tests.factories import cnn_scores_create
from tests.support.reading import enrol, next_case, submit
from tests.support.realcases import real_cases_add, real_study, sample_originals

pytestmark = pytest.mark.django_db

ALL_HISTOPATHOLOGY = "Every diagnosis below was confirmed by histopathology."


def feedback_page(client, study) -> str:
    while not (served := next_case(client, study))["finished"]:
        response = submit(client, study, served["case"]["token"], "biopsy", 70)
        assert response.status_code == 201, response.content
    page = client.get(f"/reading/studies/{study.pk}/finished/")
    assert page.status_code == 200
    return page.content.decode()


def test_a_study_of_biopsy_proven_cases_says_every_diagnosis_was_confirmed_by_histopathology(
    reader_a, reader_a_client
):
    study = real_study(3, show_feedback=True)
    enrol(study, reader_a)
    assert ALL_HISTOPATHOLOGY in feedback_page(reader_a_client, study)


def test_a_study_with_diagnoses_confirmed_otherwise_counts_each_method(reader_a, reader_a_client):
    study = real_study(2, show_feedback=True, require_biopsy_proven=False)
    real_cases_add(study, sample_originals(2, dx_type="follow_up"))
    real_cases_add(study, sample_originals(1, dx_type="consensus"))
    enrol(study, reader_a)
    page = feedback_page(reader_a_client, study)
    assert ALL_HISTOPATHOLOGY not in page
    assert (
        "How the 5 diagnoses below were confirmed: follow-up 2, histopathology 2, "
        "expert consensus 1." in page
    )


def test_cases_without_a_recorded_confirmation_are_counted_as_not_recorded(
    reader_a, reader_a_client
):
    study = real_study(1, show_feedback=True, require_biopsy_proven=False)
    real_cases_add(study, sample_originals(2, dx_type="follow_up"))
    study.cases.filter(confirmation="follow_up").update(confirmation="")
    enrol(study, reader_a)
    assert (
        "How the 3 diagnoses below were confirmed: histopathology 1, not recorded 2."
        in feedback_page(reader_a_client, study)
    )


def test_the_sentence_names_the_one_method_or_counts_several():
    assert confirmation_sentence([("follow-up", 4)]) == (
        "Every diagnosis below was confirmed by follow-up."
    )
    assert confirmation_sentence([("", 4)]) == (
        "How the diagnoses below were confirmed was not recorded."
    )
    assert confirmation_sentence([("histopathology", 3), ("", 1)]) == (
        "How the 4 diagnoses below were confirmed: histopathology 3, not recorded 1."
    )


def test_each_manifest_format_s_confirmation_reads_as_its_method():
    assert confirmation_name("histo", biopsy_proven=True) == "histopathology"
    assert confirmation_name("", biopsy_proven=True) == "histopathology"  # generic, biopsy_proven
    assert confirmation_name("follow_up", biopsy_proven=False) == "follow-up"
    assert confirmation_name("confocal", biopsy_proven=False) == "confocal microscopy"
    isic = "serial imaging showing no change"
    assert confirmation_name(isic, biopsy_proven=False) == isic
    assert confirmation_name("", biopsy_proven=False) == ""


def table_rows(page: str) -> list[list[str]]:
    """The feedback table's body as text cells."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]
        for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows)
    ]


def answer_every_case(client, study, answer_for) -> list[Case]:
    """Answer each served case with ``answer_for(case)`` through the API; the cases in order."""
    cases = []
    while not (served := next_case(client, study))["finished"]:
        case = Case.objects.get(public_id=served["case"]["id"])
        response = client.post(
            f"/api/v1/reading/studies/{study.pk}/decisions/",
            {"token": served["case"]["token"], **answer_for(case, len(cases))},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        cases.append(case)
    return cases


def test_a_diagnosis_study_s_feedback_names_each_true_class_and_counts_the_right_ones(
    reader_a, reader_a_client
):
    scheme = scheme_builtin("ham7")
    study = real_study(
        4,
        show_feedback=True,
        design="diagnosis",
        diagnosis_scheme=scheme.to_dict(),
        ask_diagnosis_confidence=True,
        confidence_scale="1-5",
    )
    enrol(study, reader_a)
    finished_url = f"/reading/studies/{study.pk}/finished/"
    # Nothing of the feedback before the reader has answered every case.
    assert reader_a_client.get(finished_url).status_code == 302

    def answer_for(case, number):
        truth = scheme.class_of(case.diagnosis)
        wrong = "df" if truth != "df" else "vasc"
        return {"diagnosis_class": truth if number < 3 else wrong, "diagnosis_confidence": 4}

    cases = answer_every_case(reader_a_client, study, answer_for)
    page = reader_a_client.get(finished_url).content.decode()
    assert "You named the right class in 3 of 4 cases." in page
    assert "malignant lesions you would have biopsied" not in page
    design = study_design(study)
    labels = {c.code: c.label for c in scheme.classes}
    expected = []
    for number, case in enumerate(cases, start=1):
        truth = scheme.class_of(case.diagnosis)
        answered = answer_for(case, number - 1)["diagnosis_class"]
        expected.append(
            [
                str(number),
                "",
                design.answer_text({"diagnosis_class": answered, "diagnosis_confidence": 4}),
                f"{case.diagnosis_label} Class: {labels[truth]}",
                "matches" if answered == truth else "differs",
            ]
        )
    assert table_rows(page) == expected
    assert expected[0][2] == f"{labels[scheme.class_of(cases[0].diagnosis)]}, confidence 4 (sure)"


def test_a_diagnosis_and_management_study_s_feedback_judges_each_answer(reader_a, reader_a_client):
    scheme = scheme_builtin("ham7")
    study = real_study(
        2, show_feedback=True, design="diagnosis_management", diagnosis_scheme=scheme.to_dict()
    )
    enrol(study, reader_a)

    def answer_for(case, number):
        # The right class, and the management decision that is wrong for the lesion.
        decision = "reassure" if case.truth else "biopsy"
        return {
            "diagnosis_class": scheme.class_of(case.diagnosis),
            "decision": decision,
            "confidence": 50,
        }

    cases = answer_every_case(reader_a_client, study, answer_for)
    page = reader_a_client.get(f"/reading/studies/{study.pk}/finished/").content.decode()
    malignant = sum(case.truth for case in cases)
    # In the design's order: the diagnosis, then the management decision.
    assert (
        f"You named the right class in 2 of 2 cases. Of {malignant} malignant lesions you would "
        f"have biopsied 0; of {2 - malignant} benign lesions you would have reassured 0."
    ) in page
    for row, case in zip(table_rows(page), cases, strict=True):
        assert row[4] == "Diagnosis: matches Decision: differs"
        assert ("malignant" if case.truth else "benign") in row[3]


def test_a_diagnosis_study_s_feedback_gives_the_cnns_class_beside_its_score(
    reader_a, reader_a_client
):
    """The reader of a diagnosis study compares their class with the CNN's class, not only
    with its probability of malignancy."""
    scheme = scheme_builtin("ham7")
    study = real_study(4, show_feedback=True, design="diagnosis", diagnosis_scheme=scheme.to_dict())
    model_version = model_version_active_get(study.task)
    cases = list(study.cases.order_by("position"))
    scores = cnn_scores_create(cases, model_version, [0.9, 0.2, 0.7, 0.1], [[0.0, 1.0]] * 4)
    cnn_class = {case.pk: ("mel", "nv", "bcc", "df")[n] for n, case in enumerate(cases)}
    for score in scores:
        CnnScore.objects.filter(pk=score.pk).update(diagnosis_class=cnn_class[score.case_id])
    enrol(study, reader_a)
    answered = answer_every_case(reader_a_client, study, lambda case, n: {"diagnosis_class": "nv"})
    page = reader_a_client.get(f"/reading/studies/{study.pk}/finished/").content.decode()
    assert '<th scope="col">The CNN\'s class</th>' in page
    labels = {c.code: c.label for c in scheme.classes}
    probability = {s.case_id: s.probability for s in scores}
    assert [row[4:6] for row in table_rows(page)] == [
        [labels[cnn_class[case.pk]], f"{probability[case.pk]:.2f}"] for case in answered
    ]
