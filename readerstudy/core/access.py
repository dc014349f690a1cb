"""Who may see a study's CNN scores and analyses: its coordinators and every analyst.

Everyone else gets 404, as if the study did not exist.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from readerstudy.accounts.roles import Role, has_role
from readerstudy.studies.models import Study


def study_for_staff(
    user: AbstractBaseUser | AnonymousUser, pk: int, *, change: bool = False
) -> Study:
    """The study, if ``user`` coordinates it or is an analyst (``change``: coordinators only)."""
    study = Study.objects.filter(pk=pk).first()
    if study is None:
        raise Http404("no such study")
    coordinates = has_role(user, Role.COORDINATOR) and (
        getattr(user, "is_superuser", False) or study.coordinators.filter(pk=user.pk).exists()
    )
    if coordinates or (not change and has_role(user, Role.ANALYST)):
        return study
    raise Http404("no such study")


def studies_for_staff(user: AbstractBaseUser | AnonymousUser):  # -> QuerySet[Study]
    """Every study for analysts; the studies they coordinate for coordinators; else none."""
    if has_role(user, Role.ANALYST) or getattr(user, "is_superuser", False):
        return Study.objects.all()
    if has_role(user, Role.COORDINATOR):
        return Study.objects.filter(coordinators=user)
    return Study.objects.none()
