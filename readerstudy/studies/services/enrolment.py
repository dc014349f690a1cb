"""Readers of a study: enrolling existing readers, or creating their accounts as well."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from readerstudy.accounts.roles import Role, has_role
from readerstudy.accounts.services import password_set_path, user_create
from readerstudy.studies.models import Enrolment, Study


@dataclass
class EnrolmentOutcome:
    """One reader's enrolment; for a new account, its one-time password or set-password path."""

    enrolment: Enrolment
    created_account: bool = False
    already_enrolled: bool = False
    initial_password: str | None = None
    set_password_path: str | None = None


def _next_pseudonym(study: Study) -> str:
    numbers = [
        int(p[1:])
        for p in Enrolment.objects.filter(study=study).values_list("pseudonym", flat=True)
        if p[:1] == "R" and p[1:].isdigit()
    ]
    return f"R{max(numbers, default=0) + 1:02d}"


def enrolment_create(
    *, study: Study, reader: User, enrolled_by: User | None = None, simulated: bool = False
) -> tuple[Enrolment, bool]:
    """Enrol ``reader`` (who must hold the Reader role); (enrolment, created).

    Pseudonyms R01, R02, ... follow the enrolment order. Two coordinators enrolling at the
    same moment could pick the same pseudonym; the unique constraint refuses the second,
    which then takes the next number.
    """
    if not has_role(reader, Role.READER):
        raise ValidationError(f"{reader.username} is not a reader")
    if study.status == Study.Status.CLOSED:
        raise ValidationError("the study is closed")
    existing = Enrolment.objects.filter(study=study, reader=reader).first()
    if existing is not None:
        return existing, False
    for _ in range(20):
        try:
            with transaction.atomic():
                enrolment = Enrolment.objects.create(
                    study=study,
                    reader=reader,
                    enrolled_by=enrolled_by,
                    simulated=simulated,
                    pseudonym=_next_pseudonym(study),
                )
            return enrolment, True
        except IntegrityError:
            existing = Enrolment.objects.filter(study=study, reader=reader).first()
            if existing is not None:
                return existing, False
    raise RuntimeError("could not find a free pseudonym after 20 tries")


_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


def readers_enrol(
    *,
    study: Study,
    usernames: Iterable[str],
    enrolled_by: User | None,
    create: bool = False,
    credentials: str = "password",
) -> list[EnrolmentOutcome]:
    """Enrol readers by username, creating missing accounts when ``create`` is set.

    A new account gets a random initial password (``credentials="password"``, returned once)
    or none and a one-time set-password link (``credentials="link"``). All or nothing: an
    unknown name without ``create``, or a user who is not a reader, enrols no one.
    """
    names = list(dict.fromkeys(n.strip() for n in usernames if n.strip()))
    if not names:
        raise ValidationError("name at least one reader")
    if credentials not in ("password", "link"):
        raise ValidationError("credentials must be 'password' or 'link'")
    bad = [n for n in names if not _USERNAME.match(n)]
    if bad:
        raise ValidationError(f"not a valid username: {', '.join(bad)}")
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    problems = []
    for name in names:
        user = users.get(name)
        if user is None and not create:
            problems.append(f"{name}: no such user (ask for missing accounts to be created)")
        elif user is not None and not has_role(user, Role.READER):
            problems.append(f"{name}: not a reader")
    if problems:
        raise ValidationError(problems)
    outcomes = []
    with transaction.atomic():
        for name in names:
            outcome_user = users.get(name)
            password = None
            if outcome_user is None:
                outcome_user, password = user_create(
                    username=name,
                    roles=[Role.READER],
                    password=None if credentials == "password" else "",
                )
            enrolment, created = enrolment_create(
                study=study, reader=outcome_user, enrolled_by=enrolled_by
            )
            outcomes.append(
                EnrolmentOutcome(
                    enrolment=enrolment,
                    created_account=name not in users,
                    already_enrolled=not created,
                    initial_password=password,
                    set_password_path=(
                        password_set_path(outcome_user)
                        if name not in users and credentials == "link"
                        else None
                    ),
                )
            )
    return outcomes


def enrolment_consent_give(*, enrolment: Enrolment) -> Enrolment:
    """Record that the reader agreed to the study's consent text: the first agreement counts
    (a second click, or a second tab, keeps the first time)."""
    if not enrolment.study.consent_text.strip():
        raise ValidationError("this study shows no consent text")
    Enrolment.objects.filter(pk=enrolment.pk, consented_at__isnull=True).update(
        consented_at=timezone.now()
    )
    enrolment.refresh_from_db(fields=["consented_at"])
    return enrolment
