"""The study design: questions described once, validated once, and stored as entered."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from readerstudy.reading import services
from readerstudy.reading.models import Decision
from readerstudy.reading.presenters import study_settings
from readerstudy.studies.design import (
    ANSWER_FIELDS,
    DesignAnswerError,
    DesignError,
    design_build,
    scheme_builtin,
    scheme_from_file,
    scheme_from_mapping,
    study_design,
)
from tests.factories import CaseFactory, StudyFactory
from tests.support.reading import enrol


def test_ham7_has_the_seven_training_classes_with_distinct_keys_and_scc_counts_as_akiec():
    scheme = scheme_builtin("ham7")
    assert scheme.codes == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    keys = [c.key for c in scheme.classes]
    assert len(set(keys)) == 7 and not set(keys) & set("BRF")
    assert scheme.class_of("scc") == "akiec"
    assert scheme.class_of("mel") == "mel"


def test_esteva3_groups_every_fine_diagnosis_as_benign_or_malignant():
    scheme = scheme_builtin("esteva3")
    assert scheme.codes == ("benign", "malignant", "non-neoplastic")
    assert {d: scheme.class_of(d) for d in ("mel", "bcc", "scc", "nv", "bkl", "vasc")} == {
        "mel": "malignant",
        "bcc": "malignant",
        "scc": "malignant",
        "nv": "benign",
        "bkl": "benign",
        "vasc": "benign",
    }


def test_the_cnn_answer_is_the_class_of_highest_summed_probability():
    # Esteva et al. 2017: P(u) = sum of P(v) over the fine classes v in u. Melanoma alone is
    # the most likely fine class, but the benign classes together outweigh the malignant ones.
    fine = {
        "mel": 0.30,
        "nv": 0.25,
        "bkl": 0.20,
        "df": 0.05,
        "vasc": 0.05,
        "bcc": 0.1,
        "akiec": 0.05,
    }
    esteva3 = scheme_builtin("esteva3")
    assert esteva3.class_probabilities(fine)["benign"] == pytest.approx(0.55)
    assert esteva3.cnn_answer(fine) == "benign"
    assert scheme_builtin("ham7").cnn_answer(fine) == "mel"
    assert esteva3.cnn_answer({}) is None


def test_a_grouping_file_maps_fine_diagnoses_and_aliases_to_reader_classes(tmp_path):
    path = tmp_path / "groups.json"
    path.write_text(
        json.dumps(
            {
                "name": "pigmented",
                "classes": [
                    {"code": "melanocytic", "label": "Melanocytic", "diagnoses": ["mel", "nevus"]},
                    {"code": "keratinocytic", "diagnoses": ["bcc", "akiec", "scc", "bkl"]},
                    {"code": "other", "diagnoses": ["df", "vasc"], "key": "o"},
                ],
            }
        )
    )
    scheme = scheme_from_file(path)
    assert scheme.class_of("nv") == "melanocytic"
    assert scheme.class_of("scc") == "keratinocytic"
    assert [c.key for c in scheme.classes] == ["M", "K", "O"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"classes": []}, "missing field 'name'"),
        ({"name": "ham7", "classes": []}, "built in"),
        ({"name": "g", "classes": [{"code": "a", "diagnoses": ["mel"]}]}, "at least two"),
        (
            {
                "name": "g",
                "classes": [
                    {"code": "a", "diagnoses": ["mel"]},
                    {"code": "b", "diagnoses": ["wart"]},
                ],
            },
            "class 2 (b): field 'diagnoses': unknown diagnosis 'wart'",
        ),
        (
            {
                "name": "g",
                "classes": [
                    {"code": "a", "diagnoses": ["mel"]},
                    {"code": "b", "diagnoses": ["mel"]},
                ],
            },
            "already in class 'a'",
        ),
        (
            {
                "name": "g",
                "classes": [
                    {"code": "a", "diagnoses": ["akiec"]},
                    {"code": "b", "diagnoses": ["scc"]},
                ],
            },
            "training class 'akiec'",
        ),
        (
            {
                "name": "g",
                "classes": [
                    {"code": "a", "diagnoses": ["mel"], "key": "B"},
                    {"code": "b", "diagnoses": ["nv"]},
                ],
            },
            "field 'key'",
        ),
    ],
)
def test_a_bad_grouping_is_refused_with_a_message_naming_the_class_and_field(mapping, message):
    with pytest.raises(DesignError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scheme_from_mapping(mapping)


def _diagnosis_study(design: str = "diagnosis", **fields):
    return StudyFactory(design=design, diagnosis_scheme=scheme_builtin("ham7").to_dict(), **fields)


@pytest.mark.django_db
def test_each_design_asks_its_questions_in_order_and_the_settings_json_carries_them():
    assert [q.name for q in study_design(StudyFactory()).questions] == ["decision"]
    assert [q.name for q in study_design(_diagnosis_study()).questions] == ["diagnosis_class"]
    both = _diagnosis_study("diagnosis_management", ask_diagnosis_confidence=True)
    assert [q.name for q in study_design(both).questions] == ["diagnosis_class", "decision"]
    settings = study_settings(both)
    assert settings["design"] == "diagnosis_management"
    diagnosis, management = settings["questions"]
    assert diagnosis["picker"] == "buttons"
    assert [c["key"] for c in diagnosis["choices"]] == ["A", "C", "K", "D", "M", "N", "V"]
    assert diagnosis["confidence"]["name"] == "diagnosis_confidence"
    assert [c["key"] for c in management["choices"]] == ["B", "R"]
    assert management["confidence"] == {
        "name": "confidence",
        "legend": "How likely is this lesion malignant?",
        "min": 0,
        "max": 100,
        "hint": "0 = certainly benign, 100 = certainly malignant. Type digits to set it.",
        "words": {},
    }


def test_more_than_nine_classes_get_a_search_picker():
    scheme = scheme_from_mapping(
        {"name": "fine", "classes": [{"code": f"c{n}", "diagnoses": []} for n in range(10)]}
    )
    design = design_build(
        kind="diagnosis", management_question="", confidence_scale="0-100", scheme=scheme
    )
    assert design.diagnosis is not None and design.diagnosis.picker == "search"


@pytest.mark.django_db
def test_answers_are_checked_against_the_design_field_by_field():
    design = study_design(_diagnosis_study("diagnosis_management", confidence_scale="1-5"))
    stored = design.answer_validate(
        {"diagnosis_class": "mel", "decision": "biopsy", "confidence": "4"}
    )
    assert stored == {
        "decision": "biopsy",
        "confidence": 4,
        "diagnosis_class": "mel",
        "diagnosis_confidence": None,
    }
    with pytest.raises(DesignAnswerError) as refused:
        design.answer_validate(
            {"diagnosis_class": "wart", "confidence": "6", "diagnosis_confidence": 3}
        )
    assert refused.value.errors == {
        "diagnosis_class": "Choose one of the diagnoses.",
        "decision": "Choose biopsy / further testing or reassure.",
        "confidence": "Give a confidence from 1 to 5.",
        "diagnosis_confidence": "This study does not ask this question.",
    }
    management_only = study_design(StudyFactory())
    with pytest.raises(DesignAnswerError) as refused:
        management_only.answer_validate(
            {"decision": "biopsy", "confidence": 50, "diagnosis_class": "mel"}
        )
    assert refused.value.errors == {"diagnosis_class": "This study does not ask this question."}


@pytest.mark.django_db
def test_a_diagnosis_answer_is_stored_exactly_as_entered_once(reader_a):
    study = _diagnosis_study(ask_diagnosis_confidence=True)
    CaseFactory.create_batch(2, study=study)
    enrolment = enrol(study, reader_a)
    serving = services.next_case_serve(enrolment=enrolment)
    token = serving.served.token
    with pytest.raises(ValidationError) as refused:
        services.decision_submit(enrolment=enrolment, token=token, diagnosis_class="mel")
    assert set(refused.value.message_dict) == {"diagnosis_confidence"}
    first = services.decision_submit(
        enrolment=enrolment, token=token, diagnosis_class="mel", diagnosis_confidence="80"
    )
    again = services.decision_submit(
        enrolment=enrolment, token=token, diagnosis_class="nv", diagnosis_confidence="10"
    )
    assert first.created and not again.created
    stored = Decision.objects.get(enrolment=enrolment)
    assert {name: getattr(stored, name) for name in ANSWER_FIELDS} == {
        "decision": None,
        "confidence": None,
        "diagnosis_class": "mel",
        "diagnosis_confidence": 80,
    }


@pytest.mark.django_db
def test_the_database_refuses_answers_no_design_can_give(reader_a):
    study = _diagnosis_study()
    case = CaseFactory(study=study)
    enrolment = enrol(study, reader_a)
    serving = services.next_case_serve(enrolment=enrolment)
    at = serving.served.served_at
    base = {"enrolment": enrolment, "case": case, "served": serving.served}
    base |= {"served_at": at, "submitted_at": at}
    for bad in (
        {},  # no answer at all
        {"decision": "biopsy"},  # a decision without its confidence
        {"confidence": 40, "diagnosis_class": "mel"},  # a confidence without a decision
        {"diagnosis_class": ""},
        {"diagnosis_class": "mel", "diagnosis_confidence": 101},
        {"decision": "maybe", "confidence": 3},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Decision.objects.create(**base, **bad)
