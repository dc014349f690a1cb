"""Enrolment: pseudonyms in order, safe under races, accounts created with one-time access."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from readerstudy.studies.models import Enrolment
from readerstudy.studies.services import enrolment as enrolment_services
from readerstudy.studies.services import enrolment_create, readers_enrol
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_pseudonyms_follow_the_enrolment_order_and_a_repeat_is_harmless(
    make_study, reader_a, reader_b
) -> None:
    study = make_study()
    first, created_first = enrolment_create(study=study, reader=reader_a)
    second, _ = enrolment_create(study=study, reader=reader_b)
    again, created_again = enrolment_create(study=study, reader=reader_a)

    assert (first.pseudonym, second.pseudonym) == ("R01", "R02")
    assert created_first and not created_again and again.pk == first.pk
    assert first.order_seed != second.order_seed


def test_a_pseudonym_taken_by_a_concurrent_enrolment_moves_to_the_next_number(
    make_study, reader_a, reader_b, monkeypatch
) -> None:
    study = make_study()
    enrolment_create(study=study, reader=reader_a)
    real_next = enrolment_services._next_pseudonym
    calls = []

    def stale_then_fresh(study):  # the first look was taken before reader_a's row committed
        calls.append(1)
        return "R01" if len(calls) == 1 else real_next(study)

    monkeypatch.setattr(enrolment_services, "_next_pseudonym", stale_then_fresh)
    enrolment, created = enrolment_create(study=study, reader=reader_b)

    assert created and enrolment.pseudonym == "R02" and len(calls) == 2


def test_only_readers_can_be_enrolled(make_study, analyst) -> None:
    with pytest.raises(ValidationError, match="not a reader"):
        readers_enrol(study=make_study(), usernames=["analyst"], enrolled_by=None)
    assert not Enrolment.objects.exists()


def test_enrolment_is_all_or_nothing(make_study, reader_a) -> None:
    study = make_study()
    with pytest.raises(ValidationError, match="ghost: no such user") as refused:
        readers_enrol(study=study, usernames=["reader_a", "ghost"], enrolled_by=None)
    assert not Enrolment.objects.exists()
    assert "--" not in str(refused.value)  # the page and the API have no command-line flags


def test_the_enrol_readers_command_prints_new_accounts_passwords(
    make_study, reader_a, capsys
) -> None:
    study = make_study()
    call_command("enrol_readers", study=study.pk, readers="reader_a,alice,bob", create=True)
    out = capsys.readouterr().out.splitlines()

    assert out[0] == "R01  reader_a"
    assert out[1].startswith("R02  alice  initial password: ")
    password = out[1].rsplit(" ", 1)[1]
    alice = Enrolment.objects.get(pseudonym="R02").reader
    assert alice.check_password(password)
    assert "3 reader(s) enrolled" in out[-1]


def test_the_enrol_readers_command_can_print_one_time_links(make_study, capsys) -> None:
    study = make_study()
    call_command(
        "enrol_readers",
        study=study.pk,
        readers="dora",
        create=True,
        link=True,
        base_url="https://rs.example.org",
    )
    line = capsys.readouterr().out.splitlines()[0]
    assert "set-password link: https://rs.example.org/accounts/set-password/" in line
    dora = Enrolment.objects.get().reader
    assert not dora.has_usable_password()


def test_the_enrol_readers_command_fails_for_unknown_names_without_create(make_study) -> None:
    UserFactory(username="eve")  # exists but holds no reader role
    with pytest.raises(CommandError, match=r"ghost: no such user.*--create creates missing"):
        call_command("enrol_readers", study=make_study().pk, readers="ghost")
    with pytest.raises(CommandError, match="eve: not a reader"):
        call_command("enrol_readers", study=make_study().pk, readers="eve")
