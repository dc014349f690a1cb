"""What the reading pages and the API show: a served case, the study's questions, feedback.

The one description of a served case that the grading page and the API both send carries the
case's opaque id, its one-time token, image URLs built from the opaque id and, only when the
study shows it, clinical information. Nothing else of a case ever leaves here. The grading
page draws the questions of the study's design (studies/design.py) from ``question_fields``,
and the feedback page judges each answer with the design (``feedback_lines``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

from readerstudy.reading.models import Decision
from readerstudy.reading.phases import AIDED
from readerstudy.reading.selectors import FeedbackRow
from readerstudy.reading.services import CaseServing
from readerstudy.scoring.saliency import study_saliency_shown
from readerstudy.scoring.selectors import case_cnn_output_get, study_algorithm_get
from readerstudy.studies.design import (
    ANSWER_FIELDS,
    MALIGNANCY_WORDS,
    MANAGEMENT,
    ClassScheme,
    Confidence,
    Question,
    StudyDesign,
    study_design,
)
from readerstudy.studies.models import Case, Study

# Stands for the varying argument of a URL reversed once (see _url): never a real id.
_PLACEHOLDER_ID = "00000000-0000-0000-0000-00000000cafe"
_PLACEHOLDER_PK = 987654321987


@functools.lru_cache(maxsize=64)
def _url_template(name: str, placeholder: object, prefix: str, urlconf: str) -> str:
    return reverse(name, args=[placeholder], urlconf=urlconf)


def _url(name: str, argument: object, placeholder: object) -> str:
    """``reverse(name, args=[argument])``, reversed once per process and script prefix: every
    served case names three of them, and reversing walks the resolver each time."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    template = _url_template(name, placeholder, get_script_prefix(), urlconf)
    return template.replace(str(placeholder), str(argument), 1)


def image_url(case_public_id: object, variant: str = "display") -> str:
    name = {
        "display": "reading:image",
        "full": "reading:image_full",
        "saliency": "reading:saliency",
    }.get(variant, "reading:image_thumbnail")
    return _url(name, case_public_id, _PLACEHOLDER_ID)


def clinical_info(case: Case) -> dict[str, Any]:
    return {
        "age": case.age,
        "sex": case.get_sex_display() if case.sex else "",
        "site": case.site.replace("_", " "),
    }


def confidence_phrase(study: Study, confidence: int) -> str:
    """A confidence as a reader reads it: "0% confidence of malignancy", "confidence 1
    (certainly benign)"."""
    if study.confidence_scale == Study.ConfidenceScale.PERCENT:
        return f"{confidence}% confidence of malignancy"
    return f"confidence {confidence} ({MALIGNANCY_WORDS[confidence]})"


def contradictory_answers(study: Study) -> list[dict[str, Any]]:
    """The answers whose confidence contradicts the decision: a biopsy at the certainly-benign
    end of the scale, a reassurance at the certainly-malignant end. The grading page asks the
    reader to confirm such an answer once before storing it."""
    low, high = study.confidence_range
    # Looked up by value: without Django's type stubs, mypy reads a member as its tuple.
    biopsy, reassure = Decision.Choice("biopsy"), Decision.Choice("reassure")
    return [
        {
            "decision": choice.value,
            "confidence": confidence,
            "question": f"{choice.label} with {confidence_phrase(study, confidence)}?",
        }
        for choice, confidence in ((biopsy, low), (reassure, high))
    ]


def confirmation_sentence(confirmations: list[tuple[str, int]]) -> str:
    """What is true of a study's diagnoses, for the feedback page: "Every diagnosis below was
    confirmed by histopathology." only where it is so, else the count of each method."""
    if len(confirmations) == 1:
        method = confirmations[0][0]
        if not method:
            return "How the diagnoses below were confirmed was not recorded."
        return f"Every diagnosis below was confirmed by {method}."
    total = sum(cases for _, cases in confirmations)
    methods = ", ".join(f"{method or 'not recorded'} {cases}" for method, cases in confirmations)
    return f"How the {total} diagnoses below were confirmed: {methods}."


@dataclass(frozen=True)
class ChoiceField:
    """One choice of a question as the grading page draws it: a radio and its label."""

    id: str
    value: str
    label: str
    key: str
    checked: bool


@dataclass(frozen=True)
class ScaleOption:
    id: str
    value: int
    words: str
    checked: bool


@dataclass(frozen=True)
class ScaleField:
    """A confidence scale as the grading page draws it: a slider with a number box for a
    wide scale (0-100), a radio per value for a short one (1-5)."""

    name: str
    legend: str
    hint: str
    low: int
    high: int
    slider: bool
    value: int | None
    options: tuple[ScaleOption, ...]

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class QuestionField:
    """A question of the study's design (studies/design.py), ready for the grading page:
    element ids derived from its answer field, and the answer being changed filled in."""

    name: str
    kind: str
    prompt: str
    legend: str
    picker: str
    choices: tuple[ChoiceField, ...]
    confidence: ScaleField | None

    @property
    def id(self) -> str:
        return self.name

    @property
    def keyed_choices(self) -> tuple[ChoiceField, ...]:
        return tuple(choice for choice in self.choices if choice.key)


# Choice values that can be part of an element id as they are; others are numbered.
_ID_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
# A scale wider than this is a slider with a number box; a shorter one, a radio per value.
_RADIO_SCALE_MAX = 10


def _choice_id(question: Question, number: int, value: str) -> str:
    return f"{question.name}-{value}" if _ID_SAFE.match(value) else f"{question.name}-{number}"


def _scale_field(scale: Confidence, answer: Mapping[str, object]) -> ScaleField:
    value = answer.get(scale.name)
    current = int(value) if isinstance(value, int) else None
    slider = scale.high - scale.low + 1 > _RADIO_SCALE_MAX
    options = (
        ()
        if slider
        else tuple(
            ScaleOption(f"{scale.name}-{n}", n, scale.words.get(n, ""), current == n)
            for n in range(scale.low, scale.high + 1)
        )
    )
    return ScaleField(
        scale.name, scale.legend, scale.hint, scale.low, scale.high, slider, current, options
    )


def question_fields(
    design: StudyDesign, answer: Mapping[str, object] | None = None
) -> list[QuestionField]:
    """The design's questions, in its order, as the grading page draws them; ``answer`` (the
    answer fields of the answer being changed) checks the choices given before."""
    answer = answer or {}
    fields = []
    for question in design.questions:
        chosen = answer.get(question.name)
        choices = tuple(
            ChoiceField(
                _choice_id(question, number, choice.value),
                choice.value,
                choice.label,
                choice.key,
                chosen == choice.value,
            )
            for number, choice in enumerate(question.choices)
        )
        scale = question.confidence
        fields.append(
            QuestionField(
                question.name,
                question.kind,
                question.prompt,
                question.legend,
                question.picker,
                choices,
                _scale_field(scale, answer) if scale is not None else None,
            )
        )
    return fields


def study_settings(study: Study) -> dict[str, Any]:
    """What the grading page (grading.js) and API clients need to ask the study's questions:
    its design's questions (studies/design.py) and the flow's settings."""
    low, high = study.confidence_range
    return {
        "id": study.pk,
        "name": study.name,
        "question": study.question,
        "confidence_scale": study.confidence_scale,
        "confidence_min": low,
        "confidence_max": high,
        "contradictory_answers": contradictory_answers(study) if study.asks_management else [],
        "allow_answer_changes": study.allow_answer_changes,
        "show_clinical_info": study.show_clinical_info,
        "ai_assistance": study.ai_assistance,
        "consent_text": study.consent_text,
        **study_design(study).settings(),
    }


AI_TOP_CLASSES = 3


def ai_output(study: Study, case: Case) -> dict[str, Any]:
    """What the aided phase shows of the CNN's output for ``case``: its probability of the
    task's positive side and, for a diagnosis question, its three most likely classes
    (Esteva's summed probabilities) with their probabilities.

    On a faulty-AI case (``Case.ai_output_inverted``, Tschandl et al. 2020) the output shown is
    inverted: 1 - p, and the most and least likely classes swap their probabilities, so the
    first class shown is the CNN's least likely. Nothing in the output says so; the analysis
    knows it from the case.
    """
    model_version = study_algorithm_get(study)
    output = case_cnn_output_get(study, case.pk, model_version)
    task = study.task_definition
    shown: dict[str, Any] = {
        "available": output is not None,
        "positive_label": "malignant"
        if task.get("name") == "malignant-vs-benign"
        else str(task.get("label", "")).split(" vs ")[0],
        "probability": None,
        "top_classes": [],
        # The CNN's Grad-CAM map for the task's positive side, when the study shows it: 202
        # from this address while a worker computes it, the PNG once it is there.
        "saliency_url": None,
    }
    if output is None:
        return shown
    if study_saliency_shown(study, model_version):
        shown["saliency_url"] = image_url(case.public_id, "saliency")
    inverted = bool(
        Case.objects.filter(pk=case.pk).values_list("ai_output_inverted", flat=True).first()
    )
    probability, fine = output
    shown["probability"] = shown_probability(probability, inverted=inverted)
    scheme = study_design(study).scheme
    if scheme is not None and fine:
        labels = {c.code: c.label for c in scheme.classes}
        shown["top_classes"] = [
            {"code": code, "label": labels[code], "probability": round(value, 3)}
            for code, value in shown_class_ranking(scheme, fine, inverted=inverted)[:AI_TOP_CLASSES]
        ]
    return shown


def shown_probability(probability: float, *, inverted: bool) -> float:
    """The CNN's probability as the aided phase shows it: 1 - p on a faulty-AI case, rounded
    to three decimals (what the reader reads; the analysis takes its answer from this)."""
    return round(1.0 - probability if inverted else probability, 3)


def shown_class_ranking(
    scheme: ClassScheme, fine: Mapping[str, float], *, inverted: bool
) -> list[tuple[str, float]]:
    """The scheme's classes with the probabilities the aided phase shows, most likely first:
    Esteva's summed probabilities, with the most and least likely classes' probabilities
    swapped on a faulty-AI case (so the first class shown is then the CNN's least likely)."""
    by_class = scheme.class_probabilities(fine)
    ranked = sorted(scheme.codes, key=lambda code: -by_class[code])
    if inverted:
        top, bottom = ranked[0], ranked[-1]
        by_class[top], by_class[bottom] = by_class[bottom], by_class[top]
        ranked = sorted(scheme.codes, key=lambda code: -by_class[code])
    return [(code, by_class[code]) for code in ranked]


def phase_note(study: Study, serving: CaseServing) -> str:
    """What the grading page says about the step being answered in an AI-assisted study
    ("" in a study without AI assistance)."""
    if not study.aided:
        return ""
    if serving.session is not None:
        aid = "with the CNN's output" if serving.phase == AIDED else "on your own, without the CNN"
        return f"Session {serving.session} of 2: you read these cases {aid}."
    if serving.phase == AIDED:
        return "Second answer: the same case, now with the CNN's output. Answer again."
    return (
        "First answer: on your own. When you submit it, it is locked and the CNN's output "
        "is shown for a second answer."
    )


def serving_payload(serving: CaseServing, study: Study) -> dict[str, Any]:
    progress = {
        "done": serving.done,
        "total": serving.total,
        "finished": serving.total > 0 and serving.done >= serving.total,
    }
    case_payload = None
    if serving.case is not None and serving.served is not None:
        case = serving.case
        answer = serving.current_answer
        case_payload = {
            "id": str(case.public_id),
            "token": serving.served.token,
            "number": serving.number,
            "served_at": serving.served.served_at.isoformat(),
            "image_url": image_url(case.public_id),
            "full_image_url": image_url(case.public_id, "full"),
            "clinical": clinical_info(case) if study.show_clinical_info else None,
            "phase": serving.phase,
            "session": serving.session,
            "phase_note": phase_note(study, serving),
            # The reader's own locked first answer, shown beside the CNN in a sequential study.
            "unaided_answer": (
                study_design(study).answer_text(
                    {name: getattr(serving.unaided_answer, name) for name in ANSWER_FIELDS}
                )
                if serving.unaided_answer is not None
                else None
            ),
            # The CNN's output reaches a reader only in an aided phase.
            "ai": ai_output(study, case) if serving.phase == AIDED else None,
            "current_answer": (
                {
                    **{name: getattr(answer, name) for name in ANSWER_FIELDS},
                    "revision": answer.revision,
                    "text": study_design(study).answer_text(
                        {name: getattr(answer, name) for name in ANSWER_FIELDS}
                    ),
                }
                if answer is not None
                else None
            ),
        }
    return {
        "finished": serving.finished,
        "case_total": serving.cases if serving.cases is not None else serving.total,
        "waiting_until": serving.locked_until.isoformat() if serving.locked_until else None,
        "progress": progress,
        "case": case_payload,
        "can_go_back": serving.can_go_back,
        "upcoming_image_url": (
            image_url(serving.upcoming_public_id) if serving.upcoming_public_id else None
        ),
        "finish_url": _url("reading:finished", study.pk, _PLACEHOLDER_PK),
    }


@dataclass(frozen=True)
class FeedbackVerdict:
    """Whether one answer of a case was right."""

    legend: str
    right: bool


@dataclass(frozen=True)
class FeedbackLine:
    """One case of the feedback page, in the reader's words: their answer, the truth (with the
    class it maps to, where the design asks a diagnosis) and whether each answer was right."""

    number: int
    public_id: Any
    answer_text: str
    diagnosis_label: str
    truth: bool
    true_class: str
    verdicts: tuple[FeedbackVerdict, ...]
    cnn_probability: float | None
    cnn_class: str = ""  # the CNN's class in the reader's words, where it gave one
    # An AI-assisted study's answer with the CNN, judged as the first one, and whether the
    # output shown with it was inverted (a faulty-AI case, disclosed in the consent text).
    aided_answer_text: str = ""
    aided_verdicts: tuple[FeedbackVerdict, ...] = ()
    ai_output_inverted: bool = False


def _verdicts(
    design: StudyDesign, answer: Mapping[str, object], right: Mapping[str, object]
) -> tuple[FeedbackVerdict, ...]:
    return tuple(
        FeedbackVerdict(question.legend, answer.get(question.name) == right[question.name])
        for question in design.questions
    )


def feedback_lines(design: StudyDesign, rows: list[FeedbackRow]) -> list[FeedbackLine]:
    lines = []
    for row in rows:
        right = design.right_answers(diagnosis=row.diagnosis, truth=row.truth)
        diagnosis = design.diagnosis
        true_class = cnn_class = ""
        if diagnosis is not None:
            code = right.get(diagnosis.name)
            true_class = diagnosis.label(code) if code else "none of the classes"
            if row.cnn_class:
                cnn_class = diagnosis.label(row.cnn_class)
        lines.append(
            FeedbackLine(
                number=row.number,
                public_id=row.public_id,
                answer_text=design.answer_text(row.answer),
                diagnosis_label=row.diagnosis_label,
                truth=row.truth,
                true_class=true_class,
                verdicts=_verdicts(design, row.answer, right),
                cnn_probability=row.cnn_probability,
                cnn_class=cnn_class,
                aided_answer_text=(
                    design.answer_text(row.aided_answer) if row.aided_answer is not None else ""
                ),
                aided_verdicts=(
                    _verdicts(design, row.aided_answer, right)
                    if row.aided_answer is not None
                    else ()
                ),
                ai_output_inverted=row.ai_output_inverted,
            )
        )
    return lines


def feedback_summary(design: StudyDesign, rows: list[FeedbackRow]) -> list[str]:
    """A sentence per question of the design: how often the reader was right; in an
    AI-assisted study, on their own and then with the CNN."""
    if not any(row.aided_answer is not None for row in rows):
        return _summary(design, rows, [row.answer for row in rows])
    aided = [row for row in rows if row.aided_answer is not None]
    sentences = [
        "On your own: " + " ".join(_summary(design, rows, [row.answer for row in rows])),
        "With the CNN: "
        + " ".join(_summary(design, aided, [row.aided_answer or {} for row in aided])),
    ]
    inverted = sum(row.ai_output_inverted for row in aided)
    if inverted:
        sentences.append(
            f"On {inverted} case{'s' if inverted != 1 else ''}, marked below, the CNN's output "
            "shown to you was deliberately inverted, as the study's consent text said."
        )
    return sentences


def _summary(
    design: StudyDesign, rows: list[FeedbackRow], given: list[dict[str, object]]
) -> list[str]:
    sentences = []
    for question in design.questions:
        answers = [answer.get(question.name) for answer in given]
        if question.kind == MANAGEMENT:
            positives = [answer for answer, row in zip(answers, rows, strict=True) if row.truth]
            negatives = [answer for answer, row in zip(answers, rows, strict=True) if not row.truth]
            sentences.append(
                f"Of {len(positives)} malignant lesions you would have biopsied "
                f"{positives.count('biopsy')}; of {len(negatives)} benign lesions you would have "
                f"reassured {negatives.count('reassure')}."
            )
        else:
            right = sum(
                answer
                == design.right_answers(diagnosis=row.diagnosis, truth=row.truth).get(question.name)
                for answer, row in zip(answers, rows, strict=True)
            )
            sentences.append(f"You named the right class in {right} of {len(rows)} cases.")
    return sentences
