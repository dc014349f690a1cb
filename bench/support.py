"""What the grading and load benches share: their environment and database, real images, reader
accounts and studies made through the platform's services, and a gunicorn to run them on."""

from __future__ import annotations

import io
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parents[1]


PASSWORD = "bench-reader-password-8c1f"  # noqa: S105 (a throwaway account on a bench database)


def bench_environment(
    database_url: str, *, broker: str = "filesystem://", var: Path | None = None
) -> dict[str, str]:
    """Production settings (DEBUG off) on plain HTTP on localhost, with the bench's own files."""
    var = var or REPO_ROOT / "var" / "bench"
    return {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "READERSTUDY_VAR_DIR": str(var),
        "MEDIA_ROOT": str(var / "media"),
    }


def database_create(database_url: str) -> None:
    import psycopg2

    parts = urlparse(database_url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def case_images(count: int) -> list[bytes]:
    """``count`` distinct 600x450 JPEGs made from the real HAM10000 sample (each one a slightly
    different crop, so every case has its own pixels)."""
    from django.conf import settings
    from PIL import Image

    folder = Path(settings.SHARED_DATA_DIR) / "ham10000-fullres-sample" / "images"
    originals = sorted(folder.glob("*.jpg"))
    if not originals:
        raise SystemExit(f"no images under {folder}: the benchmark needs ../shared/data")
    images = []
    for n in range(count):
        with Image.open(originals[n % len(originals)]) as opened:
            picture = opened.convert("RGB")
        shift = n // len(originals)
        picture = picture.crop((shift, shift, picture.width, picture.height)).resize((600, 450))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=90)
        images.append(buffer.getvalue())
    return images


@dataclass
class BenchSetup:
    study_id: int
    usernames: list[str]


def readers_ensure(count: int) -> list[str]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    reader_group = Group.objects.get(name="Reader")
    hashed = make_password(PASSWORD)
    names = [f"bench-reader-{n:03d}" for n in range(count)]
    for name in names:
        user, created = User.objects.get_or_create(username=name, defaults={"password": hashed})
        if not created and not user.check_password(PASSWORD):
            user.password = hashed
            user.save(update_fields=["password"])
        user.groups.add(reader_group)
    return names


def study_create(label: str, usernames: list[str], images: list[bytes]) -> BenchSetup:
    """A fresh open study with one case per image and every bench reader enrolled."""
    import hashlib
    import uuid

    from django.contrib.auth.models import User
    from django.core.files.base import ContentFile

    from classifier.taxonomy import load_taxonomy
    from readerstudy.studies.models import Case, Enrolment, Study

    task = load_taxonomy().task("melanoma-vs-nevus")
    owner = User.objects.get(username=usernames[0])
    study = Study.objects.create(
        name=f"Bench {label} {time.strftime('%H:%M:%S')}",
        task=task.name,
        task_definition=task.to_dict(),
        taxonomy_version="1",
        modality=Study.Modality.DERMOSCOPIC,
        status=Study.Status.OPEN,
        created_by=owner,
        show_clinical_info=True,
        # The benches measure grading from the first case; the profile form is not part of it.
        require_reader_profile=False,
    )
    for position, data in enumerate(images):
        name = uuid.uuid4().hex
        Case.objects.create(
            study=study,
            position=position,
            image=ContentFile(data, name=f"bench/{name}-full.jpg"),
            display_image=ContentFile(data, name=f"bench/{name}-display.jpg"),
            thumbnail=ContentFile(data, name=f"bench/{name}-thumb.jpg"),
            width=600,
            height=450,
            pixel_sha256=hashlib.sha256(data).hexdigest(),
            diagnosis="mel" if position % 5 == 0 else "nv",
            truth=position % 5 == 0,
            biopsy_proven=True,
            age=50,
            sex="female",
            site="back",
        )
    users = User.objects.filter(username__in=usernames)
    Enrolment.objects.bulk_create(
        [
            Enrolment(study=study, reader=user, pseudonym=f"B{n:03d}")
            for n, user in enumerate(users.order_by("username"))
        ]
    )
    return BenchSetup(study.pk, usernames)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(env: dict[str, str], port: int, workers: int, threads: int):
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "gunicorn"),
        "readerstudy.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=" + ("gthread" if threads > 1 else "sync"),
        "--backlog=2048",
        "--log-level=warning",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")
