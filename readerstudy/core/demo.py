"""The demo installation: accounts for every role, a worker and the web server on one machine.

Everything here is idempotent: a second run finds the accounts and reuses their passwords,
which the first run generated and saved in ``var/demo-logins.json`` (readable by the owner
only).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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


@dataclass
class DemoProcesses:
    worker: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (self.web, self.worker):
            if process:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _spawn(command: Sequence[str], log_name: str) -> subprocess.Popen[bytes]:
    log_dir = Path(settings.VAR_DIR) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / log_name).open("ab") as log:
        return subprocess.Popen(
            list(command),
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def demo_worker_start(*, concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A Celery worker (with the beat scheduler) on the default and CPU scoring queues."""
    return _spawn(
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


def demo_web_start(*, host: str, port: int) -> subprocess.Popen[bytes]:
    """gunicorn, as in production, serving static files through WhiteNoise."""
    return _spawn(
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
# Held-out HAM10000 lesions that the shipped model never saw in training or selection, drawn
# with a fixed seed, plus every biopsy-proven melanoma of the ISIC UDA-1 set (another archive,
# at up to 1024 px). Nevi of that set carry no recorded confirmation and are left out.
DEMO_SAMPLE = {"mel": 50, "nv": 120}
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
  isic-uda1-demo/metadata.csv and isic-uda1-demo/images/ISIC_*.jpg
      ISIC Archive, collection UDA-1 (CC0): https://www.isic-archive.com
      (images with the archive's metadata CSV)
Put them there, or pass the folder that holds them: python manage.py demo --data PATH
"""


class DemoDataMissing(Exception):
    """The data folder lacks what the demo imports; the message says what to download."""


@dataclass(frozen=True)
class DemoData:
    ham_metadata: Path
    ham_images: Path
    isic_metadata: Path
    isic_images: Path


def demo_data_locate(folder: Path) -> DemoData:
    data = DemoData(
        ham_metadata=folder / "ham10000" / "HAM10000_metadata.csv",
        ham_images=folder / "ham10000" / "images",
        isic_metadata=folder / "isic-uda1-demo" / "metadata.csv",
        isic_images=folder / "isic-uda1-demo" / "images",
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
    """Create the demo study and import its two image sets (each all-or-nothing).

    ``sample``: held-out HAM10000 cases per diagnosis (default DEMO_SAMPLE)."""
    from readerstudy.studies.ingest.importer import ImportOptions, ImportSource, study_import
    from readerstudy.studies.models import Study
    from readerstudy.studies.services import study_build, study_status_set, task_resolve

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
    first = study_import(
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
    study = first.study
    study_import(
        study=study,
        source=ImportSource(
            images=data.isic_images,
            manifest=data.isic_metadata,
            images_name="ISIC UDA-1 images",
            manifest_name="ISIC UDA-1 metadata",
        ),
        options=ImportOptions(manifest_format="isic", biopsy_proven_only=True),
        created_by=coordinator,
        progress=progress,
    )
    study.coordinators.add(coordinator)
    study_status_set(study=study, status=Study.Status.OPEN)
    return study


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

    from readerstudy.analysis.simulate import simulate_reader_panel
    from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
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
