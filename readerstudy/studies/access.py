"""Who may see a study's CNN scores and analyses: its coordinators and every analyst.

Everyone else gets 404, as if the study did not exist: the selectors return None, and
``study_for_staff_or_404`` is the views' and APIs' shortcut that turns None into 404 (as
Django's ``get_object_or_404``).
"""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from readerstudy.accounts.roles import Role, has_role
from readerstudy.studies.models import Study

Viewer: TypeAlias = AbstractBaseUser | AnonymousUser


def study_for_staff_get(user: Viewer, study_id: int, *, change: bool = False) -> Study | None:
    """The study, if ``user`` coordinates it or is an analyst (``change``: coordinators only)."""
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        return None
    coordinates = has_role(user, Role.COORDINATOR) and (
        getattr(user, "is_superuser", False) or study.coordinators.filter(pk=user.pk).exists()
    )
    if coordinates or (not change and has_role(user, Role.ANALYST)):
        return study
    return None


def study_for_staff_or_404(user: Viewer, study_id: int, *, change: bool = False) -> Study:
    """For views and APIs: ``study_for_staff_get``, with 404 where it finds nothing."""
    study = study_for_staff_get(user, study_id, change=change)
    if study is None:
        raise Http404("no such study")
    return study


def studies_for_staff(user: Viewer) -> QuerySet[Study]:
    """Every study for analysts; the studies they coordinate for coordinators; else none."""
    if has_role(user, Role.ANALYST) or getattr(user, "is_superuser", False):
        return Study.objects.all()
    if has_role(user, Role.COORDINATOR):
        return Study.objects.filter(coordinators=user)
    return Study.objects.none()
