"""A study's design: the questions a reader answers about each case, described once.

A question (in the spirit of grand-challenge's answer types) has a kind, its choices with
labels and keyboard keys, an optional confidence scale and its validation. Everything that
shows, checks, stores or analyses an answer reads this description: the grading page and
grading.js (through the page's settings JSON), the reading API, the feedback page, the
exports and the analysis adapter. Adding a question kind means adding it here.

The designs:

- ``management``: biopsy / further testing or reassure, with a confidence of malignancy
  (Esteva et al. 2017's biopsy-or-reassure; Brinker et al. 2019).
- ``diagnosis``: one class among N, with an optional confidence in it (Esteva's three-way and
  nine-way; Tschandl et al. 2019's seven HAM10000 classes).
- ``diagnosis_management``: the diagnosis, then the management decision on the same case
  (Haenssle et al. 2018).

A diagnosis question's classes come from a *class scheme*: built-in ``ham7`` (the seven
HAM10000 classes), ``esteva3`` (benign, malignant, non-neoplastic) or a coordinator's own
grouping file mapping fine diagnoses to reader classes. A case's true class is the class its
fine diagnosis maps to. The study keeps a snapshot of its scheme (``Study.diagnosis_scheme``),
as it keeps its task, so a later taxonomy never changes what an existing study asked.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.taxonomy import TaxonomyError, load_taxonomy

MANAGEMENT = "management"
DIAGNOSIS = "diagnosis"
DIAGNOSIS_MANAGEMENT = "diagnosis_management"
DESIGNS: dict[str, str] = {
    MANAGEMENT: "Management decision: biopsy or reassure, with a confidence of malignancy",
    DIAGNOSIS: "Diagnosis: one class among N",
    DIAGNOSIS_MANAGEMENT: "Diagnosis, then the management decision (Haenssle 2018)",
}

# The answer fields of a Decision, each owned by one question (a question's value, then its
# confidence). What the API accepts, the exports write and the database stores.
ANSWER_FIELDS: tuple[str, ...] = (
    "decision",
    "confidence",
    "diagnosis_class",
    "diagnosis_confidence",
)

# Keys the grading page keeps for itself (zoom, full resolution, submit) or gives the
# management question; a class never takes them.
RESERVED_KEYS = frozenset("BRF+-=0123456789")
MANAGEMENT_KEYS = {"biopsy": "B", "reassure": "R"}
# A picker with more classes than this gets a search box (nine fit on a row of keys).
SEARCH_PICKER_ABOVE = 9
MAX_CLASSES = 60


class DesignError(ValueError):
    """A class scheme or design that cannot be used, with a message naming what is wrong."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    key: str  # one upper-case character ("" when the choice has none)


@dataclass(frozen=True)
class Confidence:
    """A confidence scale: whole numbers from ``low`` to ``high``."""

    name: str  # the answer field
    legend: str
    low: int
    high: int
    hint: str
    words: Mapping[int, str] = field(default_factory=dict)

    def parse(self, raw: object) -> int:
        """The value a reader entered, exactly: raises ValueError unless it is a whole number
        on the scale (written as one: "70", not "70.0" or " 7e1")."""
        if isinstance(raw, bool):
            raise ValueError(raw)
        value = int(raw)  # type: ignore[call-overload]
        if str(raw).strip() != str(value) or not self.low <= value <= self.high:
            raise ValueError(raw)
        return value

    @property
    def error(self) -> str:
        return f"Give a confidence from {self.low} to {self.high}."

    def phrase(self, value: int) -> str:
        words = self.words.get(value)
        if self.high == 100:
            return f"{value}%"
        return f"{value} ({words})" if words else str(value)

    def settings(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "legend": self.legend,
            "min": self.low,
            "max": self.high,
            "hint": self.hint,
            "words": {str(value): words for value, words in self.words.items()},
        }


@dataclass(frozen=True)
class Question:
    name: str  # the answer field holding the chosen value
    kind: str  # MANAGEMENT or DIAGNOSIS
    prompt: str
    legend: str
    choices: tuple[Choice, ...]
    confidence: Confidence | None
    error: str  # what a missing or unknown choice is told

    @property
    def picker(self) -> str:
        return "search" if len(self.choices) > SEARCH_PICKER_ABOVE else "buttons"

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)

    def label(self, value: str | None) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return "" if value is None else str(value)

    def settings(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "prompt": self.prompt,
            "legend": self.legend,
            "picker": self.picker,
            "choices": [
                {"value": choice.value, "label": choice.label, "key": choice.key}
                for choice in self.choices
            ],
            "confidence": self.confidence.settings() if self.confidence else None,
        }


@dataclass(frozen=True)
class DiagnosisClass:
    code: str
    label: str
    key: str
    diagnoses: frozenset[str]  # fine diagnosis codes of the taxonomy
    training_classes: frozenset[str]  # the CNN's outputs summed into this class


@dataclass(frozen=True)
class ClassScheme:
    """The classes a diagnosis question offers, and the fine diagnoses each one holds."""

    name: str
    label: str
    classes: tuple[DiagnosisClass, ...]

    def class_of(self, diagnosis: str) -> str | None:
        """The reader class a fine diagnosis maps to (the case's true class), or None."""
        for diagnosis_class in self.classes:
            if diagnosis in diagnosis_class.diagnoses:
                return diagnosis_class.code
        return None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(diagnosis_class.code for diagnosis_class in self.classes)

    def class_probabilities(self, fine: Mapping[str, float]) -> dict[str, float]:
        """P(u) = sum of P(v) over the CNN's training classes v in u (Esteva et al. 2017)."""
        return {
            diagnosis_class.code: float(
                sum(fine.get(v, 0.0) for v in diagnosis_class.training_classes)
            )
            for diagnosis_class in self.classes
        }

    def cnn_answer(self, fine: Mapping[str, float]) -> str | None:
        """The CNN's class: the highest summed probability (ties: the first class in the
        scheme's order); None without fine probabilities (an imported score)."""
        if not fine:
            return None
        probabilities = self.class_probabilities(fine)
        return max(self.codes, key=lambda code: (probabilities[code], -self.codes.index(code)))

    def positive_codes(
        self, positive: Collection[str], negative: Collection[str]
    ) -> frozenset[str]:
        """The classes that mean "positive" for a binary task with these fine diagnoses on
        its positive and negative sides: those holding a positive diagnosis and no negative
        one (diagnoses outside the task, which no case of the study has, do not count).
        The ROC page of a diagnosis-only study takes a reader's class among these as their
        biopsy decision; a class that mixes both sides, or holds none of the task's
        diagnoses, counts as negative."""
        wanted, unwanted = frozenset(positive), frozenset(negative)
        return frozenset(
            c.code for c in self.classes if c.diagnoses & wanted and not c.diagnoses & unwanted
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "classes": [
                {
                    "code": c.code,
                    "label": c.label,
                    "key": c.key,
                    "diagnoses": sorted(c.diagnoses),
                    "training_classes": sorted(c.training_classes),
                }
                for c in self.classes
            ],
        }

    @classmethod
    def from_dict(cls, snapshot: Mapping[str, Any]) -> ClassScheme:
        return cls(
            name=str(snapshot["name"]),
            label=str(snapshot.get("label") or snapshot["name"]),
            classes=tuple(
                DiagnosisClass(
                    code=str(c["code"]),
                    label=str(c["label"]),
                    key=str(c.get("key", "")),
                    diagnoses=frozenset(c["diagnoses"]),
                    training_classes=frozenset(c.get("training_classes", ())),
                )
                for c in snapshot["classes"]
            ),
        )


# The built-in schemes: class code -> (label, key, fine diagnoses). ``ham7`` takes its classes
# from the taxonomy's training classes (Tschandl et al., Sci Data 2018); ``esteva3`` is Esteva
# et al. 2017's first-level partition (the shipped taxonomy has no non-neoplastic diagnosis,
# so that class is offered to readers but is never a case's truth).
_HAM7_KEYS = {"akiec": "A", "bcc": "C", "bkl": "K", "df": "D", "mel": "M", "nv": "N", "vasc": "V"}
_HAM7_LABELS = {
    "akiec": "Actinic keratosis / Bowen's disease (akiec)",
    "bcc": "Basal cell carcinoma (bcc)",
    "bkl": "Benign keratosis (bkl)",
    "df": "Dermatofibroma (df)",
    "mel": "Melanoma (mel)",
    "nv": "Melanocytic nevus (nv)",
    "vasc": "Vascular lesion (vasc)",
}
_ESTEVA3 = (
    ("benign", "Benign", "E"),
    ("malignant", "Malignant", "M"),
    ("non-neoplastic", "Non-neoplastic", "N"),
)
BUILT_IN_SCHEMES: dict[str, str] = {
    "ham7": "The seven HAM10000 classes (Tschandl 2019)",
    "esteva3": "Benign, malignant, non-neoplastic (Esteva 2017)",
}


def _ham7() -> ClassScheme:
    taxonomy = load_taxonomy()
    classes = []
    for code in taxonomy.training_classes:
        diagnoses = frozenset(
            d.code for d in taxonomy.diagnoses.values() if d.training_class == code
        )
        classes.append(
            DiagnosisClass(
                code=code,
                label=_HAM7_LABELS.get(code, code),
                key=_HAM7_KEYS.get(code, ""),
                diagnoses=diagnoses,
                training_classes=frozenset({code}),
            )
        )
    return ClassScheme("ham7", BUILT_IN_SCHEMES["ham7"], tuple(classes))


def _esteva3() -> ClassScheme:
    taxonomy = load_taxonomy()
    members: dict[str, set[str]] = {"benign": set(), "malignant": set(), "non-neoplastic": set()}
    for diagnosis in taxonomy.diagnoses.values():
        members["malignant" if diagnosis.malignant else "benign"].add(diagnosis.code)
    classes = []
    for code, label, key in _ESTEVA3:
        diagnoses = frozenset(members[code])
        training = frozenset(taxonomy.diagnoses[d].training_class for d in diagnoses)
        classes.append(DiagnosisClass(code, label, key, diagnoses, training))
    return ClassScheme("esteva3", BUILT_IN_SCHEMES["esteva3"], tuple(classes))


def scheme_builtin(name: str) -> ClassScheme:
    if name == "ham7":
        return _ham7()
    if name == "esteva3":
        return _esteva3()
    known = ", ".join(BUILT_IN_SCHEMES)
    raise DesignError(f"unknown class scheme {name!r} (built-in: {known}, or a grouping file)")


def scheme_from_mapping(mapping: Mapping[str, Any], *, source: str = "grouping") -> ClassScheme:
    """A coordinator's grouping: ``{"name", "label"?, "classes": [{"code", "label"?,
    "key"?, "diagnoses": [fine diagnoses or aliases]}, ...]}``.

    Every diagnosis must be in the taxonomy and in one class only, and two classes may not
    share a CNN training class (the CNN could not tell them apart). Keys are single letters,
    unique, and not the grading page's own (B, R, F, digits); a class without one gets the
    first free letter of its label.
    """
    taxonomy = load_taxonomy()
    if not isinstance(mapping, Mapping):
        raise DesignError(f"{source}: a grouping must be a JSON object")
    name = str(mapping.get("name", "")).strip()
    if not name:
        raise DesignError(f"{source}: missing field 'name'")
    if name in BUILT_IN_SCHEMES:
        raise DesignError(f"{source}: a grouping may not be called {name!r}: that is built in")
    raw_classes = mapping.get("classes")
    if not isinstance(raw_classes, list) or len(raw_classes) < 2:
        raise DesignError(f"{source}: field 'classes' must be a list of at least two classes")
    if len(raw_classes) > MAX_CLASSES:
        raise DesignError(f"{source}: at most {MAX_CLASSES} classes")
    seen_codes: set[str] = set()
    owner: dict[str, str] = {}
    training_owner: dict[str, str] = {}
    parsed: list[tuple[str, str, str, frozenset[str], frozenset[str]]] = []
    for number, raw in enumerate(raw_classes, start=1):
        where = f"{source}: class {number}"
        if not isinstance(raw, Mapping):
            raise DesignError(f"{where}: must be an object with 'code' and 'diagnoses'")
        code = str(raw.get("code", "")).strip()
        if not code or len(code) > 32:
            raise DesignError(f"{where}: field 'code' must be 1 to 32 characters")
        if code in seen_codes:
            raise DesignError(f"{where}: code {code!r} is used twice")
        seen_codes.add(code)
        values = raw.get("diagnoses")
        if not isinstance(values, list):
            raise DesignError(f"{where} ({code}): field 'diagnoses' must be a list")
        try:
            diagnoses = frozenset(taxonomy.normalise(str(value)) for value in values)
        except TaxonomyError as error:
            raise DesignError(f"{where} ({code}): field 'diagnoses': {error}") from None
        for diagnosis in diagnoses:
            if diagnosis in owner:
                raise DesignError(
                    f"{where} ({code}): diagnosis {diagnosis!r} is already in class "
                    f"{owner[diagnosis]!r}"
                )
            owner[diagnosis] = code
        training = frozenset(taxonomy.diagnoses[d].training_class for d in diagnoses)
        for training_class in training:
            if training_owner.get(training_class, code) != code:
                raise DesignError(
                    f"{where} ({code}): shares the CNN's training class {training_class!r} with "
                    f"class {training_owner[training_class]!r}; the CNN cannot separate them"
                )
            training_owner[training_class] = code
        key = str(raw.get("key", "")).strip().upper()
        if key and (len(key) != 1 or not key.isalpha() or key in RESERVED_KEYS):
            raise DesignError(
                f"{where} ({code}): field 'key' must be one letter other than B, R, F"
            )
        label = str(raw.get("label") or code).strip()
        parsed.append((code, label, key, diagnoses, training))
    used = {key for _, _, key, _, _ in parsed if key}
    if len(used) != sum(1 for _, _, key, _, _ in parsed if key):
        raise DesignError(f"{source}: two classes have the same key")
    classes = []
    for code, label, key, diagnoses, training in parsed:
        if not key:
            key = next(
                (
                    c
                    for c in (label + code).upper()
                    if c.isalpha() and c not in RESERVED_KEYS and c not in used
                ),
                "",
            )
            used.add(key)
        classes.append(DiagnosisClass(code, label, key, diagnoses, training))
    return ClassScheme(name, str(mapping.get("label") or name), tuple(classes))


def scheme_from_file(path: str | Path) -> ClassScheme:
    path = Path(path)
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DesignError(f"{path}: cannot read the grouping: {error}") from None
    return scheme_from_mapping(mapping, source=str(path))


# The confidence scales' words, from one end to the other.
MALIGNANCY_WORDS = {
    1: "certainly benign",
    2: "probably benign",
    3: "uncertain",
    4: "probably malignant",
    5: "certainly malignant",
}
CERTAINTY_WORDS = {1: "a guess", 2: "unsure", 3: "fairly sure", 4: "sure", 5: "certain"}
MANAGEMENT_CHOICES = (
    Choice("biopsy", "Biopsy / further testing", MANAGEMENT_KEYS["biopsy"]),
    Choice("reassure", "Reassure", MANAGEMENT_KEYS["reassure"]),
)
DEFAULT_DIAGNOSIS_QUESTION = "What is the most likely diagnosis?"


@dataclass(frozen=True)
class StudyDesign:
    kind: str
    questions: tuple[Question, ...]
    scheme: ClassScheme | None

    def question(self, name: str) -> Question | None:
        return next((q for q in self.questions if q.name == name), None)

    @property
    def management(self) -> Question | None:
        return self.question("decision")

    @property
    def diagnosis(self) -> Question | None:
        return self.question("diagnosis_class")

    def answer_validate(self, raw: Mapping[str, object]) -> dict[str, object]:
        """The answer fields to store, exactly as entered: every field of ANSWER_FIELDS, None
        where the design does not ask it. Raises DesignAnswerError with one message per
        field (the names of ANSWER_FIELDS) that is missing, unknown or off its scale, and for
        any value sent to a question the study does not ask."""
        errors: dict[str, str] = {}
        answer: dict[str, object] = dict.fromkeys(ANSWER_FIELDS)
        asked = set()
        for question in self.questions:
            asked.add(question.name)
            value = raw.get(question.name)
            if value not in question.values:
                errors[question.name] = question.error
            else:
                answer[question.name] = value
            if question.confidence is not None:
                scale = question.confidence
                asked.add(scale.name)
                try:
                    answer[scale.name] = scale.parse(raw.get(scale.name))
                except (TypeError, ValueError):
                    errors[scale.name] = scale.error
        for name in ANSWER_FIELDS:
            if name not in asked and raw.get(name) not in (None, ""):
                errors[name] = "This study does not ask this question."
        if errors:
            raise DesignAnswerError(errors)
        return answer

    def answer_text(self, answer: Mapping[str, object]) -> str:
        """An answer as a reader reads it: "Melanoma (mel), sure; Biopsy / further testing,
        70%"."""
        parts = []
        for question in self.questions:
            value = answer.get(question.name)
            if value is None:
                continue
            text = question.label(str(value))
            scale = question.confidence
            if scale is not None and answer.get(scale.name) is not None:
                text += f", confidence {scale.phrase(int(answer[scale.name]))}"  # type: ignore[call-overload]
            parts.append(text)
        return "; ".join(parts)

    def right_answers(self, *, diagnosis: str, truth: bool) -> dict[str, str | None]:
        """The right choice of each question for a case of this fine diagnosis and truth: a
        biopsy for a malignant lesion and reassurance for a benign one; the class the fine
        diagnosis maps to (None where the scheme puts it in no class)."""
        right: dict[str, str | None] = {}
        for question in self.questions:
            if question.kind == MANAGEMENT:
                right[question.name] = "biopsy" if truth else "reassure"
            elif question.kind == DIAGNOSIS:
                right[question.name] = self.scheme.class_of(diagnosis) if self.scheme else None
        return right

    def settings(self) -> dict[str, Any]:
        """What grading.js needs to draw, key and check the questions."""
        return {
            "design": self.kind,
            "questions": [question.settings() for question in self.questions],
        }


class DesignAnswerError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _management_question(prompt: str, scale: str) -> Question:
    if scale == "1-5":
        confidence = Confidence(
            "confidence",
            "How likely is this lesion malignant?",
            1,
            5,
            "1 = certainly benign, 5 = certainly malignant.",
            MALIGNANCY_WORDS,
        )
    else:
        confidence = Confidence(
            "confidence",
            "How likely is this lesion malignant?",
            0,
            100,
            "0 = certainly benign, 100 = certainly malignant. Type digits to set it.",
        )
    return Question(
        name="decision",
        kind=MANAGEMENT,
        prompt=prompt,
        legend="Decision",
        choices=MANAGEMENT_CHOICES,
        confidence=confidence,
        error="Choose biopsy / further testing or reassure.",
    )


def _diagnosis_question(
    prompt: str, scheme: ClassScheme, scale: str, ask_confidence: bool
) -> Question:
    confidence = None
    if ask_confidence:
        if scale == "1-5":
            confidence = Confidence(
                "diagnosis_confidence",
                "How sure are you of this diagnosis?",
                1,
                5,
                "1 = a guess, 5 = certain.",
                CERTAINTY_WORDS,
            )
        else:
            confidence = Confidence(
                "diagnosis_confidence",
                "How sure are you of this diagnosis?",
                0,
                100,
                "0 = a guess, 100 = certain. Type digits to set it.",
            )
    return Question(
        name="diagnosis_class",
        kind=DIAGNOSIS,
        prompt=prompt,
        legend="Diagnosis",
        choices=tuple(Choice(c.code, c.label, c.key) for c in scheme.classes),
        confidence=confidence,
        error="Choose one of the diagnoses.",
    )


def design_build(
    *,
    kind: str,
    management_question: str,
    confidence_scale: str,
    scheme: ClassScheme | None = None,
    diagnosis_question: str = DEFAULT_DIAGNOSIS_QUESTION,
    ask_diagnosis_confidence: bool = False,
) -> StudyDesign:
    if kind not in DESIGNS:
        raise DesignError(f"unknown design {kind!r} (designs: {', '.join(DESIGNS)})")
    questions: list[Question] = []
    if kind in (DIAGNOSIS, DIAGNOSIS_MANAGEMENT):
        if scheme is None:
            raise DesignError(f"the {kind} design needs a class scheme")
        questions.append(
            _diagnosis_question(
                diagnosis_question or DEFAULT_DIAGNOSIS_QUESTION,
                scheme,
                confidence_scale,
                ask_diagnosis_confidence,
            )
        )
    if kind in (MANAGEMENT, DIAGNOSIS_MANAGEMENT):
        questions.append(_management_question(management_question, confidence_scale))
    return StudyDesign(kind, tuple(questions), scheme if kind != MANAGEMENT else None)


def study_design(study: Any) -> StudyDesign:
    """The design of a study (anything with a Study's design fields)."""
    snapshot = getattr(study, "diagnosis_scheme", None)
    return design_build(
        kind=study.design,
        management_question=study.question,
        confidence_scale=study.confidence_scale,
        scheme=ClassScheme.from_dict(snapshot) if snapshot else None,
        diagnosis_question=getattr(study, "diagnosis_question", "") or DEFAULT_DIAGNOSIS_QUESTION,
        ask_diagnosis_confidence=bool(getattr(study, "ask_diagnosis_confidence", False)),
    )
