"""Each reader's order: random per reader, the same after logout and login, every case once,
and cases added later come after everything the reader already had."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from readerstudy.accounts.roles import Role
from readerstudy.reading.models import ReadingOrder
from readerstudy.reading.ordering import order_extend
from readerstudy.reading.services import reading_order_sync
from tests.factories import CaseFactory, UserFactory
from tests.support.reading import enrol, next_case, submit, synthetic_study


def test_order_extend_keeps_the_existing_order_and_appends_new_cases_shuffled_by_the_seed():
    first = [(n, uuid.uuid4()) for n in range(1, 9)]
    later = [(n, uuid.uuid4()) for n in range(9, 15)]
    start = order_extend(1234, [], first)
    assert sorted(start) == [n for n, _ in first]
    grown = order_extend(1234, start, first + later)
    assert grown[: len(start)] == start
    assert sorted(grown[len(start) :]) == [n for n, _ in later]
    # The appended block is the seed's own shuffle of the new cases, not their import order.
    assert grown[len(start) :] == order_extend(1234, [], later)
    assert order_extend(1234, [], later) != order_extend(99, [], later)


def test_order_extend_drops_removed_cases_and_never_repeats_one():
    cases = [(n, uuid.uuid4()) for n in range(1, 7)]
    order = order_extend(7, [3, 3, 1], cases)
    assert order[:2] == [3, 1]
    assert sorted(order) == [1, 2, 3, 4, 5, 6]
    assert 4 not in order_extend(7, order, [c for c in cases if c[0] != 4])


@pytest.mark.django_db
def test_twenty_readers_keep_their_own_order_across_logins_and_see_each_case_once():
    study = synthetic_study(12)
    orders = []
    for n in range(20):
        reader = UserFactory(username=f"derm{n:02d}", roles=[Role.READER])
        enrolment = enrol(study, reader)
        seen: list[str] = []
        for session in range(3):  # log in three times, answering some cases each time
            client = Client()
            client.force_login(reader)
            first_view = next_case(client, study)
            if seen and len(seen) < 12:
                # After a new login the reader resumes exactly where they stopped.
                assert first_view["case"]["id"] not in seen
            for _ in range(4 if session < 2 else 12):
                served = next_case(client, study)
                if served["finished"]:
                    break
                seen.append(served["case"]["id"])
                assert submit(client, study, served["case"]["token"]).status_code == 201
            client.post("/accounts/logout/")
        assert len(seen) == 12 and len(set(seen)) == 12
        expected = order_extend(
            enrolment.order_seed, [], study.cases.values_list("pk", "public_id")
        )
        by_pk = dict(study.cases.values_list("pk", "public_id"))
        assert seen == [str(by_pk[pk]) for pk in expected]
        orders.append(tuple(seen))
    assert len(set(orders)) == 20, "every reader should get an independent random order"


@pytest.mark.django_db
def test_cases_added_after_a_reader_started_are_appended_without_reshuffling(reader_a):
    study = synthetic_study(6)
    enrolment = enrol(study, reader_a)
    client = Client()
    client.force_login(reader_a)
    before = reading_order_sync(enrolment=enrolment)
    answered = []
    for _ in range(3):
        served = next_case(client, study)
        answered.append(served["case"]["id"])
        submit(client, study, served["case"]["token"])
    for position in range(6, 10):
        CaseFactory(study=study, position=position)
    after = reading_order_sync(enrolment=enrolment)
    assert after[:6] == before
    assert set(after[6:]) == set(study.cases.filter(position__gte=6).values_list("pk", flat=True))
    # The reader carries on with the rest of the first batch, then the new cases.
    remaining = []
    while not (served := next_case(client, study))["finished"]:
        remaining.append(served["case"]["id"])
        submit(client, study, served["case"]["token"])
    by_pk = dict(study.cases.values_list("pk", "public_id"))
    assert answered + remaining == [str(by_pk[pk]) for pk in after]
    assert ReadingOrder.objects.get(enrolment=enrolment).case_ids == after


@pytest.mark.django_db
def test_a_lost_order_is_rebuilt_identically_from_the_enrolment_seed(reader_a):
    study = synthetic_study(8)
    enrolment = enrol(study, reader_a)
    original = reading_order_sync(enrolment=enrolment)
    ReadingOrder.objects.filter(enrolment=enrolment).delete()
    assert reading_order_sync(enrolment=enrolment) == original
