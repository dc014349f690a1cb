"""docker/ is kept correct by reading: no Docker engine runs here, so these tests check that
every command the containers run exists in the project, and run the pieces that can run."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys

import pytest
import yaml
from django.core.management import get_commands

from tests.support.env import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
QUEUES = {"default", "cpu", "gpu"}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_has_the_promised_services_with_health_checks() -> None:
    services = compose()["services"]
    assert {
        "web",
        "worker",
        "gpu-worker",
        "db",
        "redis",
        "migrate",
        "shipped-model",
        "scheduler",
    } <= set(services)
    for name in ("web", "worker", "db", "redis"):
        assert "healthcheck" in services[name], name
    assert services["gpu-worker"]["profiles"] == ["gpu"]
    assert "--appendonly" in services["redis"]["command"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]


@pytest.mark.parametrize(
    "name", ["migrate", "shipped-model", "web", "worker", "scheduler", "gpu-worker"]
)
def test_each_app_service_runs_a_command_that_exists(name: str) -> None:
    command = compose()["services"][name]["command"]
    program = command[0]
    if program == "python":
        assert command[1] == "manage.py"
        assert command[2] in get_commands(), f"{name}: no management command {command[2]}"
    elif program == "gunicorn":
        module, attribute = command[1].split(":")
        assert callable(getattr(importlib.import_module(module), attribute))
    elif program == "celery":
        app_module = command[command.index("-A") + 1]
        assert hasattr(importlib.import_module(app_module), "app")
        assert command[command.index("-A") + 2] in ("worker", "beat")
        if "--queues" in command:
            queues = set(command[command.index("--queues") + 1].split(","))
            assert queues <= QUEUES, f"{name}: unknown queues {queues - QUEUES}"
    else:
        pytest.fail(f"{name}: unexpected program {program}")


def test_the_shipped_model_is_registered_after_migrate_and_before_the_web_server_starts() -> None:
    services = compose()["services"]
    after = services["shipped-model"]["depends_on"]["migrate"]["condition"]
    before = services["web"]["depends_on"]["shipped-model"]["condition"]
    assert after == before == "service_completed_successfully"


def test_the_gpu_worker_consumes_the_gpu_queue_and_the_cpu_worker_the_cpu_queue() -> None:
    services = compose()["services"]
    gpu = services["gpu-worker"]["command"]
    cpu = services["worker"]["command"]
    assert gpu[gpu.index("--queues") + 1] == "gpu"
    assert "cpu" in cpu[cpu.index("--queues") + 1].split(",")
    assert services["gpu-worker"]["environment"]["READERSTUDY_SCORING_QUEUE"] == "gpu"


def test_the_dockerfile_copies_what_exists_and_runs_as_a_non_root_user() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+) ", text, flags=re.MULTILINE):
        assert (REPO_ROOT / source).exists(), f"COPY {source}: not in the repository"
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text


def test_every_variable_in_the_env_example_is_read_by_the_project() -> None:
    settings_text = (REPO_ROOT / "readerstudy" / "settings.py").read_text()
    compose_text = (DOCKER / "compose.yaml").read_text()
    for line in (DOCKER / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name = line.split("=", 1)[0]
            assert f'"{name}"' in settings_text or name in compose_text, name


@pytest.mark.django_db(transaction=True)
def test_the_web_health_check_script_passes_against_a_live_server(live_server) -> None:
    env = {
        **os.environ,
        "READERSTUDY_HEALTHCHECK_URL": f"{live_server.url}/healthz",
        "DJANGO_ALLOWED_HOSTS": "localhost",
    }
    result = subprocess.run(
        [sys.executable, str(DOCKER / "healthcheck.py")], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr

    env["READERSTUDY_HEALTHCHECK_URL"] = f"{live_server.url}/no-such-page"
    result = subprocess.run(
        [sys.executable, str(DOCKER / "healthcheck.py")], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 1


def test_the_image_has_the_browser_that_renders_report_figures() -> None:
    # PNG/SVG export runs kaleido in READERSTUDY_CHROMIUM (default /usr/bin/chromium): without
    # Debian's chromium in the image every figure export fails at run time.
    from django.conf import settings

    text = (DOCKER / "Dockerfile").read_text()
    installs = " ".join(re.findall(r"apt-get install[^&]*", text))
    assert re.search(r"\bchromium\b", installs)
    assert str(settings.READERSTUDY_CHROMIUM) == "/usr/bin/chromium"
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    assert re.search(r"^kaleido==", requirements, flags=re.MULTILINE)


def test_the_nginx_config_serves_images_from_the_internal_location_django_names() -> None:
    # READERSTUDY_MEDIA_ACCEL=nginx: Django answers X-Accel-Redirect under this location, which
    # must be internal (never reachable by its own URL) and alias the media volume's MEDIA_ROOT.
    from django.conf import settings

    text = (DOCKER / "nginx.conf").read_text()
    start = text.index(f"location {settings.READERSTUDY_MEDIA_ACCEL_LOCATION} {{")
    body = text[start : text.index("\n    }\n", start)]
    assert re.search(r"^\s*internal;", body, flags=re.MULTILINE)
    media_root = compose()["x-app"]["environment"]["MEDIA_ROOT"]
    assert re.search(rf"^\s*alias {re.escape(media_root)}/;", body, flags=re.MULTILINE)
    assert "nosniff" in body and "sandbox" in body
    assert "server web:8000;" in text
