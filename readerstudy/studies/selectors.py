"""Reads of the studies package. A coordinator reaches only the studies they coordinate;
anything else is None (the views and the API answer 404), so the existence of other studies is
never revealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Max, Q, QuerySet

from readerstudy.accounts.roles import Role, has_role
from readerstudy.studies.models import Case, Enrolment, ImportJob, ReaderProfile, Study
from readerstudy.studies.subgroups import SUBGROUP_PARAMETERS, ReaderSubgroup


def study_list_for_coordinator(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Study]:
    """The studies ``user`` coordinates (none for a user without the coordinator role)."""
    if not has_role(user, Role.COORDINATOR):
        return Study.objects.none()
    return (
        Study.objects.filter(coordinators=user)
        .annotate(
            case_count=Count("cases", distinct=True),
            reader_count=Count("enrolments", distinct=True),
        )
        .order_by("-created_at", "-id")
    )


def study_get_for_coordinator(
    user: AbstractBaseUser | AnonymousUser, study_id: int
) -> Study | None:
    return study_list_for_coordinator(user).filter(pk=study_id).first()


def study_counts_get(study: Study) -> list[dict[str, object]]:
    """Cases per diagnosis with their truth and how many are biopsy-proven."""
    rows = (
        Case.objects.filter(study=study)
        .values("diagnosis", "truth")
        .annotate(cases=Count("id"), proven=Count("id", filter=Q(biopsy_proven=True)))
        .order_by("-truth", "diagnosis")
    )
    return list(rows)


def study_truth_counts_get(study: Study) -> dict[str, int]:
    totals = Case.objects.filter(study=study).aggregate(
        positive=Count("id", filter=Q(truth=True)),
        negative=Count("id", filter=Q(truth=False)),
    )
    return {"positive": totals["positive"], "negative": totals["negative"]}


def import_job_list(study: Study) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(study=study).select_related("created_by")


def import_job_get(study: Study, job_id: int) -> ImportJob | None:
    return import_job_list(study).filter(pk=job_id).first()


def case_list(study: Study) -> QuerySet[Case]:
    return Case.objects.filter(study=study).order_by("position")


def case_get(study: Study, public_id: object) -> Case | None:
    return Case.objects.filter(study=study, public_id=public_id).first()


def enrolment_list(study: Study) -> QuerySet[Enrolment]:
    return (
        Enrolment.objects.filter(study=study)
        .select_related("reader", "profile")
        .order_by("enrolled_at")
    )


def import_job_status_get(job: ImportJob) -> dict[str, object]:
    """What the progress bar polls."""
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "phase": job.phase,
        "done": job.progress_done,
        "total": job.progress_total,
        "percent": job.percent,
        "finished": job.finished,
        "cases_created": job.cases_created,
        "error_count": len(job.errors),
    }


@dataclass(frozen=True)
class ReaderProgress:
    """How far one enrolled reader has come: what the study page and the API show."""

    enrolment: Enrolment
    answered: int
    total: int
    last_activity: datetime | None

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.answered >= self.total


def reader_progress_list(study: Study) -> list[ReaderProgress]:
    """Every enrolled reader's answers given (changes count once; in AI-assisted studies each
    case is answered unaided and aided) and last answer.

    Reads the readers' decisions through the enrolment's reverse relation, so that the studies
    package needs nothing of the reading package.
    """
    total = Case.objects.filter(study=study).count() * (2 if study.aided else 1)
    enrolments = enrolment_list(study).annotate(
        # The first answer to each case and phase is revision 1.
        answered=Count("decisions", filter=Q(decisions__revision=1)),
        last_activity=Max("decisions__submitted_at"),
    )
    return [
        ReaderProgress(enrolment, enrolment.answered, total, enrolment.last_activity)
        for enrolment in enrolments
    ]


def reader_progress_unfinished(progress: list[ReaderProgress]) -> list[ReaderProgress]:
    """The people (not simulated readers) still to finish: whom to remind."""
    return [row for row in progress if not row.finished and not row.enrolment.simulated]


def case_stamp_get(study: Study) -> tuple[int, int | None]:
    """How many cases the study holds and the newest one's id: changes with every import."""
    stamp = Case.objects.filter(study=study).aggregate(n=Count("pk"), last=Max("pk"))
    return stamp["n"], stamp["last"]


def enrolment_get(study: Study, enrolment_id: int) -> Enrolment | None:
    return enrolment_list(study).filter(pk=enrolment_id).first()


def reader_profile_get(enrolment: Enrolment) -> ReaderProfile | None:
    return ReaderProfile.objects.filter(enrolment=enrolment).first()


def reader_profile_missing(enrolment: Enrolment) -> bool:
    """Whether the study asks this reader for a profile that they have not given yet."""
    return (
        enrolment.study.require_reader_profile
        and not ReaderProfile.objects.filter(enrolment=enrolment).exists()
    )


def reader_consent_missing(enrolment: Enrolment) -> bool:
    """Whether the study shows a consent text that this reader has not agreed to yet."""
    return bool(enrolment.study.consent_text.strip()) and enrolment.consented_at is None


PROFILE_FIELDS = ("position", "board_certified", "experience", "notes")


def reader_profile_initial(enrolment: Enrolment) -> dict[str, object]:
    """What the profile form starts from: this enrolment's profile, else the reader's most
    recent one in another study (asked once: they only confirm it), else nothing."""
    profile = reader_profile_get(enrolment) or (
        ReaderProfile.objects.filter(enrolment__reader_id=enrolment.reader_id)
        .order_by("-updated_at", "-pk")
        .first()
    )
    if profile is None:
        return {}
    return {name: getattr(profile, name) for name in PROFILE_FIELDS}


def reader_profile_list(study: Study) -> list[tuple[Enrolment, ReaderProfile | None]]:
    """Every enrolled reader of the study in pseudonym order, with their profile (or None)."""
    enrolments = enrolment_list(study).order_by("pseudonym")
    return [(e, getattr(e, "profile", None)) for e in enrolments]


def subgroup_pseudonyms(study: Study, subgroup: ReaderSubgroup) -> set[str]:
    """The pseudonyms of the study's readers in ``subgroup``."""
    enrolments = subgroup.enrolments(Enrolment.objects.filter(study=study))
    return set(enrolments.values_list("pseudonym", flat=True))


def subgroup_enrolment_ids(study: Study, subgroup: ReaderSubgroup) -> set[int] | None:
    """The enrolments of the study's readers in ``subgroup``; None for every reader."""
    if subgroup.everyone:
        return None
    enrolments = subgroup.enrolments(Enrolment.objects.filter(study=study))
    return set(enrolments.values_list("pk", flat=True))


def reader_profile_groups_get(study: Study) -> dict[str, dict[str, list[str]]]:
    """The study's readers' pseudonyms by profile value, for each subgroup parameter:
    {"position": {"attending": ["R01", ...], ...}, "experience": {">10": [...], ...}}; only
    values that some reader has."""
    groups: dict[str, dict[str, list[str]]] = {name: {} for name in SUBGROUP_PARAMETERS}
    rows = ReaderProfile.objects.filter(enrolment__study=study).order_by("enrolment__pseudonym")
    for pseudonym, *values in rows.values_list("enrolment__pseudonym", *SUBGROUP_PARAMETERS):
        for name, value in zip(SUBGROUP_PARAMETERS, values, strict=True):
            groups[name].setdefault(value, []).append(pseudonym)
    return groups


def reader_profile_stamp_get(study: Study) -> tuple[int, datetime | None]:
    """How many profiles the study's readers have and the latest change: subgroups change
    with them."""
    stamp = ReaderProfile.objects.filter(enrolment__study=study).aggregate(
        n=Count("pk"), last=Max("updated_at")
    )
    return stamp["n"], stamp["last"]
