"""A study's life: created as a draft, set up, opened (confound audit acknowledged), closed,
reopened, or deleted while still a draft."""

from __future__ import annotations

import random
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from classifier.taxonomy import Task, TaxonomyError, load_taxonomy
from readerstudy.studies.confounds import (
    confound_warnings_acknowledge,
    confound_warnings_unacknowledged,
    study_confound_audit,
)
from readerstudy.studies.design import (
    DESIGNS,
    MANAGEMENT,
    ClassScheme,
    DesignError,
    scheme_builtin,
    scheme_from_file,
    scheme_from_mapping,
)
from readerstudy.studies.models import Case, Study
from readerstudy.studies.services.imports import import_running, stored_files_delete_on_commit

# A draft's settings, in the order the settings form shows them. The design and its classes
# are chosen when the study is created.
EDITABLE_WHILE_DRAFT = (
    "name",
    "modality",
    "question",
    "diagnosis_question",
    "ask_diagnosis_confidence",
    "confidence_scale",
    "ai_assistance",
    "washout_days",
    "ai_show_saliency",
    "faulty_ai_percent",
    "consent_text",
    "allow_answer_changes",
    "show_clinical_info",
    "show_feedback",
    "require_biopsy_proven",
    "require_reader_profile",
)
ASSISTANCE_FIELDS = (
    "ai_assistance",
    "washout_days",
    "ai_show_saliency",
    "faulty_ai_percent",
    "consent_text",
)
# Later settings that do not change what a reader sees when grading.
EDITABLE_ALWAYS = ("name", "show_feedback")
# The steps a study may take: a closed study may be reopened (closing by mistake is undone).
# The study page offers the first step of each status as its button.
# (str() of a status is its value, "draft"; it also tells mypy, which has no Django stubs here.)
STATUS_STEPS: dict[str, tuple[str, ...]] = {
    str(Study.Status.DRAFT): (str(Study.Status.OPEN),),
    str(Study.Status.OPEN): (str(Study.Status.CLOSED),),
    str(Study.Status.CLOSED): (str(Study.Status.OPEN),),
}


def task_resolve(*, name: str = "", mapping: dict | None = None, path: Path | None = None) -> Task:
    """A built-in task by name, or a custom task from a mapping or a JSON mapping file.

    Raises ValidationError with the taxonomy's message. A custom task may not take the
    name of a built-in one.
    """
    taxonomy = load_taxonomy()
    try:
        if path is not None:
            task = taxonomy.task_from_file(path)
        elif mapping is not None:
            task = taxonomy.task_from_mapping(mapping, source="task mapping")
        else:
            return taxonomy.task(name)
    except TaxonomyError as error:
        raise ValidationError(str(error)) from None
    if task.name in taxonomy.tasks:
        raise ValidationError(
            f"a custom task may not be called {task.name!r}: that is a built-in task"
        )
    return task


def scheme_resolve(
    *, name: str = "", mapping: dict | None = None, path: Path | None = None
) -> ClassScheme:
    """The diagnosis classes: a built-in scheme by name (ham7, esteva3), or a coordinator's
    grouping from a mapping or a JSON file. Raises ValidationError with the reason."""
    try:
        if path is not None:
            return scheme_from_file(path)
        if mapping is not None:
            return scheme_from_mapping(mapping, source="class grouping")
        return scheme_builtin(name)
    except DesignError as error:
        raise ValidationError(str(error)) from None


def _design_check(design: str, task: Task, scheme: ClassScheme | None) -> ClassScheme | None:
    """The scheme the design keeps: none for management only; for a diagnosis, one that
    places every diagnosis of the task (each case's truth is the class of its diagnosis)."""
    if design not in DESIGNS:
        raise ValidationError(f"unknown design {design!r} (designs: {', '.join(DESIGNS)})")
    if design == MANAGEMENT:
        return None
    if scheme is None:
        raise ValidationError(
            f"the {design} design needs diagnosis classes (ham7, esteva3 or a grouping)"
        )
    unplaced = sorted(d for d in task.diagnoses if scheme.class_of(d) is None)
    if unplaced:
        raise ValidationError(
            f"the classes {scheme.name!r} place no class for the task's diagnoses {unplaced}: "
            "add them to the grouping or choose a task without them"
        )
    return scheme


def _assistance_check(study: Study) -> None:
    """AI-assisted reading's rules (reading/phases.py): every answer final (the unaided answer
    is locked before the CNN is shown), a washout of at least a day between crossover
    sessions, and a faulty-AI check only in an aided study whose consent text discloses it."""
    if study.aided and study.allow_answer_changes:
        raise ValidationError(
            "an AI-assisted study keeps every answer final (the unaided answer is locked "
            "before the CNN's output is shown): readers may not change answers"
        )
    if study.ai_assistance == Study.AiAssistance.CROSSOVER and study.washout_days < 1:
        raise ValidationError("a crossover needs a washout of at least one day")
    if study.ai_show_saliency and not study.aided:
        raise ValidationError(
            "a Grad-CAM map is shown in the aided phase: choose AI-assisted reading"
        )
    if study.faulty_ai_percent:
        if not study.aided:
            raise ValidationError("a faulty-AI check needs AI-assisted reading")
        if not study.consent_text.strip():
            raise ValidationError(
                "a faulty-AI check must be disclosed to readers: write the consent text they "
                "see before their first case"
            )


def faulty_ai_cases_mark(study: Study) -> int:
    """Choose the faulty-AI cases (``faulty_ai_percent`` of the study's cases, at least one;
    seeded by the study) whose shown CNN output is inverted. Returns how many were marked."""
    ids = sorted(Case.objects.filter(study=study).values_list("pk", flat=True))
    Case.objects.filter(study=study).update(ai_output_inverted=False)
    if not study.faulty_ai_percent or not ids:
        return 0
    count = max(1, round(len(ids) * study.faulty_ai_percent / 100))
    chosen = random.Random(f"faulty-ai {study.pk}").sample(ids, count)
    return Case.objects.filter(pk__in=chosen).update(ai_output_inverted=True)


def require_biopsy_proven_default() -> bool:
    """Whether a new study requires biopsy proof when its creator does not say."""
    return bool(settings.READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT)


def study_build(
    *,
    name: str,
    task: Task,
    modality: str,
    created_by: User,
    question: str = "",
    confidence_scale: str = str(Study.ConfidenceScale.PERCENT),
    allow_answer_changes: bool = False,
    show_clinical_info: bool = False,
    show_feedback: bool = False,
    require_biopsy_proven: bool | None = None,
    require_reader_profile: bool = True,
    design: str = MANAGEMENT,
    scheme: ClassScheme | None = None,
    diagnosis_question: str = "",
    ask_diagnosis_confidence: bool = False,
    **assistance: object,
) -> Study:
    """A validated, unsaved study (``study_import`` saves it together with its cases).

    ``require_biopsy_proven=None`` takes READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT. A design
    that asks a diagnosis needs ``scheme`` (see ``scheme_resolve``), which must place every
    diagnosis of the task; the study keeps a snapshot of it. ``assistance``: the AI-assisted
    reading settings (ai_assistance, washout_days, ai_show_saliency, faulty_ai_percent,
    consent_text).
    """
    unknown = set(assistance) - set(ASSISTANCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown study settings: {sorted(unknown)}")
    if require_biopsy_proven is None:
        require_biopsy_proven = require_biopsy_proven_default()
    scheme = _design_check(design, task, scheme)
    study = Study(
        name=name.strip(),
        task=task.name,
        task_definition=task.to_dict(),
        taxonomy_version=load_taxonomy().version,
        modality=modality,
        confidence_scale=confidence_scale,
        allow_answer_changes=allow_answer_changes,
        show_clinical_info=show_clinical_info,
        show_feedback=show_feedback,
        require_biopsy_proven=require_biopsy_proven,
        require_reader_profile=require_reader_profile,
        created_by=created_by,
        design=design,
        diagnosis_scheme=scheme.to_dict() if scheme is not None else None,
        ask_diagnosis_confidence=ask_diagnosis_confidence and scheme is not None,
    )
    if question.strip():
        study.question = question.strip()
    if diagnosis_question.strip():
        study.diagnosis_question = diagnosis_question.strip()
    for name, value in assistance.items():
        setattr(study, name, value.strip() if isinstance(value, str) else value)
    _assistance_check(study)
    study.full_clean()
    return study


@transaction.atomic
def study_create(**fields: object) -> Study:
    """Create a draft study (see study_build) coordinated by its creator."""
    study = study_build(**fields)  # type: ignore[arg-type]
    study.save()
    study.coordinators.add(study.created_by)
    return study


@transaction.atomic
def study_update(*, study: Study, **changes: object) -> Study:
    """Change a study's settings; while it is open or closed only its name and feedback.

    Requiring biopsy proof is refused while the study holds a case without it.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    allowed = EDITABLE_WHILE_DRAFT if study.status == Study.Status.DRAFT else EDITABLE_ALWAYS
    refused = sorted(k for k, v in changes.items() if k not in allowed and getattr(study, k) != v)
    if refused:
        raise ValidationError(
            f"{', '.join(refused)} cannot be changed once the study is {study.status}"
        )
    if "modality" in changes and changes["modality"] != study.modality and study.cases.exists():
        raise ValidationError("the modality cannot change once cases are imported")
    if changes.get("require_biopsy_proven") and not study.require_biopsy_proven:
        unproven = study.cases.filter(biopsy_proven=False).count()
        if unproven:
            raise ValidationError(
                f"{unproven} cases of this study are not biopsy-proven; it cannot require "
                "biopsy proof"
            )
    for key, value in changes.items():
        setattr(study, key, value.strip() if isinstance(value, str) else value)
    _assistance_check(study)
    study.full_clean()
    study.save()
    return study


@transaction.atomic
def study_status_set(*, study: Study, status: str, acknowledged_by: User | None = None) -> Study:
    """Move a study one step: draft -> open -> closed, or reopen a closed study.

    Opening needs positive and negative cases, no import still running, and every warning of
    the confound audit acknowledged: ``acknowledged_by`` records that this coordinator
    acknowledges the current warnings. Readers may be enrolled later. Reopening lets readers
    go on where they stopped.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if status == study.status:
        return study
    if status not in STATUS_STEPS.get(study.status, ()):
        raise ValidationError(f"a {study.status} study cannot become {status}")
    if status == Study.Status.OPEN:
        if not study.cases.exists():
            raise ValidationError("import cases before opening the study")
        truths = set(study.cases.values_list("truth", flat=True).distinct())
        if truths != {True, False}:
            missing = "positive" if True not in truths else "negative"
            raise ValidationError(
                f"the study has no {missing} case: readers' sensitivity and specificity need both"
            )
        if import_running(study):
            raise ValidationError("wait for the running import to finish")
        _confounds_check(study, acknowledged_by)
    if study.status == Study.Status.DRAFT and status == Study.Status.OPEN:
        # Chosen once, when the cases are final: a reopened study keeps its marks.
        faulty_ai_cases_mark(study)
    study.status = status
    study.save(update_fields=["status", "updated_at"])
    return study


@transaction.atomic
def study_delete(*, study: Study) -> None:
    """Delete a draft study with its cases, imports and enrolments, and its stored images.

    Only a draft: an open or closed study holds readers' answers. Refused while an import
    is running (it would write into the deleted study).
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.DRAFT:
        raise ValidationError(f"only a draft study can be deleted; this one is {study.status}")
    if import_running(study):
        raise ValidationError("wait for the running import to finish")
    cases = list(Case.objects.filter(study=study).only("image", "display_image", "thumbnail"))
    tokens = list(study.import_jobs.values_list("token", flat=True))
    study.delete()
    stored_files_delete_on_commit(cases, tokens)


def _confounds_check(study: Study, acknowledged_by: User | None) -> None:
    audit = study_confound_audit(study)
    if acknowledged_by is not None:
        confound_warnings_acknowledge(study=study, user=acknowledged_by, audit=audit)
    unacknowledged = confound_warnings_unacknowledged(study, audit)
    if unacknowledged:
        raise ValidationError(
            "the confound audit warns that something other than the lesion predicts the "
            f"truth ({'; '.join(unacknowledged)}): review it and acknowledge the warnings "
            "to open the study"
        )
