"""Locust users for bench/load.py: dermatologists grading through the browser's own requests.

Each user logs in through the login form (CSRF and all) as one of the bench readers, opens the
grading page, and then does what the page does for every case: POST the answer to the reading
API (the response carries the next case) and GET the next case's image. The pair is also
reported as one request, "submit + next image", the latency a reader feels.

Run by bench/load.py, which sets:
  BENCH_READERS    comma-separated usernames (one per user, in spawn order)
  BENCH_PASSWORD   their password
  BENCH_STUDY_ID   the open study they are enrolled in
  BENCH_PAUSE      mean seconds a reader looks at a case before answering
  BENCH_RESULT     where to write the counts of stored and replayed submits (JSON)
  BENCH_SESSIONS   comma-separated session keys, one per reader in the order of BENCH_READERS
                   (empty: each user logs in through the login form)
  BENCH_SESSION_COOKIE  the name of the session cookie
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time

from locust import HttpUser, between, events, task

READERS = os.environ.get("BENCH_READERS", "").split(",")
PASSWORD = os.environ.get("BENCH_PASSWORD", "")
STUDY_ID = int(os.environ.get("BENCH_STUDY_ID", "0"))
PAUSE = float(os.environ.get("BENCH_PAUSE", "1.0"))
SESSIONS = [key for key in os.environ.get("BENCH_SESSIONS", "").split(",") if key]
SESSION_COOKIE = os.environ.get("BENCH_SESSION_COOKIE", "sessionid")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SERVING = re.compile(r'<script id="serving-data" type="application/json">(.*?)</script>', re.S)

_next_reader = itertools.count()
# Submits the server acknowledged as stored (201) or as a replay of a stored one (200).
COUNTS = {"acknowledged": 0, "replayed": 0, "finished_readers": 0}


class Reader(HttpUser):
    wait_time = between(PAUSE * 0.5, PAUSE * 1.5)

    def on_start(self) -> None:
        number = next(_next_reader)
        self.username = READERS[number % len(READERS)]
        self.serving: dict | None = None
        if SESSIONS:
            # A session bench/load.py made as a login makes one, in the order of READERS.
            self.client.cookies.set(SESSION_COOKIE, SESSIONS[number % len(SESSIONS)])
        else:
            login = self.client.get("/accounts/login/", name="login page")
            self.client.post(
                "/accounts/login/",
                data={
                    "username": self.username,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": CSRF_INPUT.search(login.text).group(1),
                },
                name="log in",
            )
        page = self.client.get(f"/reading/studies/{STUDY_ID}/", name="grading page")
        self.csrf = CSRF_INPUT.findall(page.text)[-1]
        self.serving = json.loads(SERVING.search(page.text).group(1))
        self.client.get(self.serving["case"]["image_url"], name="case image")

    @task
    def grade_one_case(self) -> None:
        if self.serving is None or self.serving["finished"]:
            return
        started = time.perf_counter()
        n = self.serving["progress"]["done"] + 1
        body = {
            "token": self.serving["case"]["token"],
            "decision": "biopsy" if n % 3 == 0 else "reassure",
            "confidence": (n * 37) % 101,
            "active_ms": int(PAUSE * 1000),
        }
        with self.client.post(
            f"/api/v1/reading/studies/{STUDY_ID}/decisions/",
            json=body,
            headers={"X-CSRFToken": self.csrf, "Accept": "application/json"},
            name="submit",
            catch_response=True,
        ) as answer:
            if answer.status_code not in (200, 201):
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return
            COUNTS["acknowledged" if answer.status_code == 201 else "replayed"] += 1
            self.serving = answer.json()["next"]
        if self.serving["finished"]:
            COUNTS["finished_readers"] += 1
            return
        image = self.client.get(self.serving["case"]["image_url"], name="case image")
        events.request.fire(
            request_type="READ",
            name="submit + next image",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(image.content),
            exception=None if image.ok else RuntimeError(f"image {image.status_code}"),
            context={},
        )


@events.test_stop.add_listener
def _write_counts(environment: object, **kwargs: object) -> None:
    path = os.environ.get("BENCH_RESULT")
    if path:
        with open(path, "w") as handle:
            json.dump(COUNTS, handle)
