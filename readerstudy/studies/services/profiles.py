"""Readers' profiles: who each reader was when they read a study (position, board
certification, dermoscopy experience), given by the reader before their first case or by the
study's coordinator."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from readerstudy.studies.models import Enrolment, ReaderProfile, Study


@transaction.atomic
def reader_profile_save(
    *,
    enrolment: Enrolment,
    position: str,
    experience: str,
    board_certified: bool | None = None,
    notes: str = "",
    saved_by: User | None = None,
) -> ReaderProfile:
    """Create or replace the profile of ``enrolment``; refused while the study is closed (the
    record of who read it is then final)."""
    if enrolment.study.status == Study.Status.CLOSED:
        raise ValidationError("the study is closed: its readers' profiles are final")
    profile = ReaderProfile.objects.select_for_update().filter(enrolment=enrolment).first()
    profile = profile or ReaderProfile(enrolment=enrolment)
    profile.position = position
    profile.experience = experience
    profile.board_certified = board_certified
    profile.notes = notes.strip()
    profile.updated_by = saved_by
    profile.full_clean(exclude=["enrolment"])
    profile.save()
    return profile
