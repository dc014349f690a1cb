"""The demo installation: accounts for every role, a worker and the web server on one machine.

Everything here is idempotent: a second run finds the accounts and reuses their passwords,
which the first run generated and saved in ``var/demo-logins.json`` (readable by the owner
only).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import initial_password_generate, user_create, user_roles_add

if TYPE_CHECKING:
    from readerstudy.studies.models import Study


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role


def demo_logins_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-logins.json"


def demo_accounts_ensure(*, readers: int) -> list[DemoLogin]:
    """Create (or find) a coordinator, an analyst and ``readers`` reader accounts."""
    path = demo_logins_path()
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = [("coordinator", Role.COORDINATOR), ("analyst", Role.ANALYST)] + [
        (f"reader{n}", Role.READER) for n in range(1, readers + 1)
    ]
    logins = []
    for username, role in wanted:
        password = saved.get(username) or initial_password_generate()
        user = User.objects.filter(username=username).first()
        if user is None:
            user_create(username=username, roles=[role], password=password)
        elif username not in saved or not user.check_password(password):
            # An account from an earlier demo whose password file was lost: reset it once.
            user.set_password(password)
            user.save(update_fields=["password"])
            user_roles_add(user=user, roles=[role])
        saved[username] = password
        logins.append(DemoLogin(username=username, password=password, role=role))
    path.write_text(json.dumps(saved, indent=2))
    path.chmod(0o600)
    return logins


# Ctrl-C, a plain kill and a closed terminal all stop the demo and the processes it started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class DemoProcesses:
    """The worker and the web server, each the leader of a process group of its own."""

    worker: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None
    grace_seconds: float = 20.0

    @property
    def started(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in (self.web, self.worker) if p is not None]

    def stop(self) -> None:
        """SIGTERM to every group, then SIGKILL to the groups whose leader is still running
        after the grace period (gunicorn and Celery stop their own children on SIGTERM)."""
        for process in self.started:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for process in self.started:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # Only while the leader is unreaped (running or a zombie) is its group id still ours.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@contextlib.contextmanager
def demo_processes_stopped_on_exit() -> Iterator[DemoProcesses]:
    """Yield the demo's processes; stop them however the block ends.

    The first stop signal (STOP_SIGNALS) raises KeyboardInterrupt in the block, also where
    the demo was started with SIGINT ignored (a background job inherits that). Later signals
    are ignored, so that a second Ctrl-C or kill cannot cut the clean-up short and leave the
    worker and the web server running (issue 16); a signal that still lands inside the
    clean-up restarts it."""
    stopping = False

    def first_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, first_signal) for signum in STOP_SIGNALS}
    processes = DemoProcesses()
    try:
        yield processes
    finally:
        while True:
            try:
                stopping = True
                processes.stop()
                break
            except KeyboardInterrupt:
                continue
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _spawn(
    processes: DemoProcesses, role: str, command: Sequence[str], log_name: str
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own as ``processes.<role>``, its output appended
    to var/log/``log_name``.

    The stop signals are blocked from before the child exists until it is registered, so that
    no signal can leave a child the clean-up does not know of; the child unblocks them."""
    log_dir = Path(settings.VAR_DIR) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        with (log_dir / log_name).open("ab") as log:
            process = subprocess.Popen(
                list(command),
                cwd=settings.BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, blocked),
            )
        setattr(processes, role, process)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return process


def demo_worker_start(processes: DemoProcesses, *, concurrency: int = 1) -> None:
    """A Celery worker (with the beat scheduler) on the default and CPU scoring queues."""
    _spawn(
        processes,
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "readerstudy.celery",
            "worker",
            "--beat",
            "--schedule",
            str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
            "--queues",
            f"default,{settings.READERSTUDY_SCORING_QUEUE}",
            "--concurrency",
            str(concurrency),
            "--hostname",
            "demo@%h",
            "--loglevel",
            "INFO",
        ],
        "worker.log",
    )


def demo_web_start(processes: DemoProcesses, *, host: str, port: int) -> None:
    """gunicorn, as in production, serving static files through WhiteNoise."""
    _spawn(
        processes,
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "readerstudy.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
        ],
        "web.log",
    )


class ProgressLines:
    """Progress as plain log lines: one when a phase starts, one each time it passes another
    tenth, and one at its end. The demo's output is often a file or a pipe (a log, CI, a
    background job), where a redrawn progress bar becomes one line of carriage returns."""

    def __init__(self, write: Callable[[str], None], *, unit: str) -> None:
        self.write = write
        self.unit = unit
        self.phase = ""
        self.tenth = -1

    def __call__(self, phase: str, done: int, total: int) -> None:
        tenth = 10 * done // total if total > 0 else -1
        if phase == self.phase and tenth <= self.tenth:
            return
        self.phase, self.tenth = phase, tenth
        counted = f": {done} of {total} {self.unit}s" if total > 0 else ""
        self.write(f"  {phase}{counted}")


def wait_for_http(url: str, *, timeout: float = 60.0) -> bool:
    """True once ``url`` answers (any HTTP status), False after ``timeout`` seconds."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a local http URL)
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.3)
    return False


# --- The demo study ---------------------------------------------------------------------------

DEMO_STUDY_NAME = "Demo: melanoma vs nevus (dermoscopy, biopsy-proven)"
# One source, so that nothing but the lesion tells the classes apart (issue 16): biopsy-proven
# HAM10000 lesions from the shipped model's held-out test split (never seen in training or
# model selection), one image per lesion, all at the same size and compression, drawn with a
# fixed seed. The held-out split has 92 melanoma and 205 nevus lesions proven by histology.
# Left out on purpose: the ISIC UDA-1 set (its 30 melanomas are sharp 1024-px images and its
# nevi carry no recorded confirmation, so image size alone gave the truth away) and the
# full-resolution HAM10000 sample (of its held-out biopsy-proven images one is a melanoma and
# none a nevus: the one sharp image would again be a melanoma).
DEMO_SAMPLE = {"mel": 80, "nv": 120}
DEMO_SEED = 2017
# The simulated panel is calibrated to Brinker et al. (Eur J Cancer 2019): 145 dermatologists,
# mean sensitivity 89.4% and specificity 64.4% for management decisions on melanoma vs nevus.
SIMULATED_SENSITIVITY = 0.894
SIMULATED_SPECIFICITY = 0.644

DOWNLOAD_HELP = """\
The demo needs real skin-lesion images, which are not part of this repository.
Expected under {data}:
  ham10000/HAM10000_metadata.csv and ham10000/images/ISIC_*.jpg
      HAM10000 (Tschandl et al. 2018, CC BY-NC 4.0):
      https://doi.org/10.7910/DVN/DBW86T  (HAM10000_metadata + the image zips)
Put them there, or pass the folder that holds them: python manage.py demo --data PATH
"""


class DemoDataMissing(Exception):
    """The data folder lacks what the demo imports; the message says what to download."""


@dataclass(frozen=True)
class DemoData:
    ham_metadata: Path
    ham_images: Path


def demo_data_locate(folder: Path) -> DemoData:
    data = DemoData(
        ham_metadata=folder / "ham10000" / "HAM10000_metadata.csv",
        ham_images=folder / "ham10000" / "images",
    )
    missing = [path for path in vars(data).values() if not Path(path).exists()]
    if missing:
        listed = "\n".join(f"  missing: {path}" for path in missing)
        raise DemoDataMissing(f"{listed}\n\n" + DOWNLOAD_HELP.format(data=folder))
    return data


def heldout_manifest_write(data: DemoData, target: Path) -> int:
    """Write the HAM10000 rows of the shipped model's held-out test lesions to ``target``."""
    import csv

    from classifier import DEFAULT_SPLIT
    from classifier.data import split_lesion_ids

    heldout = split_lesion_ids(DEFAULT_SPLIT, "test")
    target.parent.mkdir(parents=True, exist_ok=True)
    with data.ham_metadata.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        fields = [name for name in reader.fieldnames or [] if name]
        rows = [row for row in reader if row["lesion_id"] in heldout]
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def demo_study_get() -> object | None:
    from readerstudy.studies.models import Study

    return Study.objects.filter(name=DEMO_STUDY_NAME).order_by("pk").first()


def demo_study_create(
    *,
    coordinator: User,
    data: DemoData,
    sample: dict[str, int] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Study:
    """Create the demo study (a draft) and import its held-out images (all-or-nothing).

    ``sample``: held-out HAM10000 cases per diagnosis (default DEMO_SAMPLE)."""
    from readerstudy.studies.ingest.importer import ImportOptions, ImportSource, study_import
    from readerstudy.studies.models import Study
    from readerstudy.studies.services import study_build, task_resolve

    manifest = Path(settings.VAR_DIR) / "demo" / "ham10000-heldout.csv"
    heldout_manifest_write(data, manifest)
    study = study_build(
        name=DEMO_STUDY_NAME,
        task=task_resolve(name="melanoma-vs-nevus"),
        modality=Study.Modality.DERMOSCOPIC,
        created_by=coordinator,
        show_clinical_info=True,
        show_feedback=True,
    )
    imported = study_import(
        study=study,
        source=ImportSource(
            images=data.ham_images,
            manifest=manifest,
            images_name="HAM10000 images",
            manifest_name="HAM10000 held-out lesions",
        ),
        options=ImportOptions(
            manifest_format="ham10000",
            biopsy_proven_only=True,
            sample=dict(sample or DEMO_SAMPLE),
            seed=DEMO_SEED,
        ),
        created_by=coordinator,
        progress=progress,
    )
    imported.study.coordinators.add(coordinator)
    return imported.study


def demo_study_open(*, study: Study, coordinator: User, acknowledge_confounds: bool) -> Study:
    """Open the demo study for grading, as its coordinator. The confound audit must pass, or
    its warnings be acknowledged (``acknowledge_confounds``); raises ValidationError naming
    the warnings otherwise."""
    from readerstudy.studies.models import Study
    from readerstudy.studies.services import study_status_set

    if study.status != Study.Status.DRAFT:
        return study
    with transaction.atomic():
        return study_status_set(
            study=study,
            status=Study.Status.OPEN,
            acknowledged_by=coordinator if acknowledge_confounds else None,
        )


def demo_readers_enrol(*, study, logins: list[DemoLogin], coordinator: User) -> None:
    from readerstudy.studies.models import Enrolment
    from readerstudy.studies.services import enrolment_create

    for login in logins:
        if login.role != Role.READER:
            continue
        reader = User.objects.get(username=login.username)
        if not Enrolment.objects.filter(study=study, reader=reader).exists():
            enrolment_create(study=study, reader=reader, enrolled_by=coordinator)


def demo_panel_ensure(*, study, n_readers: int, coordinator: User) -> int:
    """Add a simulated reader panel (once): Roe-Metz readers calibrated to Brinker 2019.

    Returns the number of simulated readers added (0 when the panel exists)."""
    import numpy as np

    from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
    from readerstudy.stats.simulate import simulate_reader_panel
    from readerstudy.studies.models import Case, Enrolment
    from readerstudy.studies.services import enrolment_create

    if n_readers <= 0 or Enrolment.objects.filter(study=study, simulated=True).exists():
        return 0
    cases = list(Case.objects.filter(study=study).order_by("position").values_list("pk", "truth"))
    truth = np.asarray([int(t) for _, t in cases])
    low, high = study.confidence_range
    panel = simulate_reader_panel(
        truth,
        n_readers,
        mean_sensitivity=SIMULATED_SENSITIVITY,
        mean_specificity=SIMULATED_SPECIFICITY,
        seed=DEMO_SEED,
        rating_scale=(low, high),
    )
    for reader in panel.reader_inputs():
        with transaction.atomic():
            # No usable password: nobody can log in as a simulated reader.
            user = User.objects.create(
                username=f"simulated-{secrets.token_hex(4)}",
                first_name="Simulated",
                last_name="reader",
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user_roles_add(user=user, roles=[Role.READER])
            enrolment, _ = enrolment_create(
                study=study, reader=user, enrolled_by=coordinator, simulated=True
            )
            decision_record_simulated(
                enrolment=enrolment,
                answers=[
                    SimulatedAnswer(
                        case_id=cases[int(index)][0],
                        biopsy=bool(decision),
                        confidence=round(float(rating)),
                    )
                    for index, decision, rating in zip(
                        reader.case_index, reader.decision, reader.rating, strict=True
                    )
                ],
            )
    return n_readers


def demo_reset() -> None:
    """Remove the demo study (cases, files, decisions), its simulated readers, and the demo
    accounts, so the next run starts over."""
    from readerstudy.studies.models import Enrolment, Study

    for study in Study.objects.filter(name=DEMO_STUDY_NAME):
        simulated = list(
            Enrolment.objects.filter(study=study, simulated=True).values_list("reader", flat=True)
        )
        for case in study.cases.all():
            for field in (case.image, case.display_image, case.thumbnail):
                if field:
                    field.storage.delete(field.name)
        study.delete()
        User.objects.filter(pk__in=simulated).delete()
    saved = demo_logins_path()
    if saved.exists():
        User.objects.filter(username__in=json.loads(saved.read_text())).delete()
        saved.unlink()
