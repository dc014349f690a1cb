"""Fifty identical submits at once, over real HTTP to a live server on PostgreSQL, store one
decision and answer every copy without a server error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from readerstudy.reading.models import Decision, ServedCase
from tests.support.reading import enrol, synthetic_study
from tests.support.world import http_session

COPIES = 50


def _submit_at_once(
    session: requests.Session, url: str, csrf: str, body: dict, copies: int
) -> list[requests.Response]:
    """``copies`` threads, each on its own connection, released together by a barrier."""
    barrier = threading.Barrier(copies)
    cookies = session.cookies.get_dict()

    def one_submit(_: int) -> requests.Response:
        with requests.Session() as own:
            own.cookies.update(cookies)
            barrier.wait()
            return own.post(url, json=body, headers={"X-CSRFToken": csrf}, timeout=120)

    with ThreadPoolExecutor(max_workers=copies) as pool:
        return list(pool.map(one_submit, range(copies)))


@pytest.mark.slow
@pytest.mark.parametrize("allow_changes", [False, True], ids=["final-answers", "changes-allowed"])
def test_fifty_concurrent_identical_submits_store_one_decision_and_no_server_error(
    postgresql, burst_server, reader_a, allow_changes
) -> None:
    study = synthetic_study(3, allow_answer_changes=allow_changes)
    enrol(study, reader_a)
    session, csrf = http_session(reader_a, burst_server, f"/reading/studies/{study.pk}/")
    served = session.get(f"{burst_server}/api/v1/reading/studies/{study.pk}/next/", timeout=30)
    token = served.json()["case"]["token"]

    responses = _submit_at_once(
        session,
        f"{burst_server}/api/v1/reading/studies/{study.pk}/decisions/",
        csrf,
        {"token": token, "decision": "biopsy", "confidence": 62, "active_ms": 1200},
        COPIES,
    )

    codes = sorted(r.status_code for r in responses)
    assert [c for c in codes if c >= 500] == [], [r.text[:300] for r in responses]
    assert codes == [200] * (COPIES - 1) + [201]
    assert Decision.objects.count() == 1
    stored = Decision.objects.get()
    assert (stored.served.token, stored.decision, stored.confidence, stored.revision) == (
        token,
        "biopsy",
        62,
        1,
    )
    bodies = [r.json() for r in responses]
    assert sum(not b["replayed"] for b in bodies) == 1
    # Every copy answers with the one stored decision and the same next case.
    assert {(b["decision"]["submitted_at"], b["decision"]["confidence"]) for b in bodies} == {
        (bodies[0]["decision"]["submitted_at"], 62)
    }
    assert len({b["next"]["case"]["id"] for b in bodies}) == 1
    # The reader goes on from where the stored decision left them: the next case, once.
    following = session.get(f"{burst_server}/api/v1/reading/studies/{study.pk}/next/").json()
    assert following["progress"]["done"] == 1
    assert following["case"]["id"] == bodies[0]["next"]["case"]["id"]
    # ... served with one token: the 49 replays waited for the first submit's commit and
    # reused the serving it made rather than each making one of their own.
    assert ServedCase.objects.count() == 2
    assert (
        ServedCase.objects.filter(decision__isnull=True).get().token == following["case"]["token"]
    )
