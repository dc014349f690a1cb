"""Settings come from the environment; production values pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from readerstudy import settings as project_settings
from tests.support.env import REPO_ROOT

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k2PbXw7q9N3t6Vz8Rm1s4Lc5Hd0Jf2Gy7Ua9Eo3Ti6Qp8Wn1Xr4Zb5Kv0Yh7Md2Sg",
    "DJANGO_ALLOWED_HOSTS": "readerstudy.example.org",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_when_a_production_setting_is_weakened() -> None:
    weak = {**PRODUCTION, "DJANGO_SECURE_COOKIES": "false", "DJANGO_HSTS_SECONDS": "3600"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=weak)
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr + result.stdout
    assert "readerstudy.W005" in result.stderr + result.stdout


def test_secret_key_is_required_when_debug_is_off() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_headers_are_strict(settings) -> None:
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["script-src"] + directives["style-src"]
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF


def test_pages_carry_csp_nosniff_and_frame_deny(client, db) -> None:
    response = client.get("/accounts/login/")
    assert "object-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("raw, expected", [("1", True), ("off", False), ("True", True)])
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected) -> None:
    monkeypatch.setenv("SOME_FLAG", raw)
    assert project_settings.env_bool("SOME_FLAG", not expected) is expected


def test_env_helpers_refuse_values_they_cannot_read(monkeypatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be true or false"):
        project_settings.env_bool("SOME_FLAG", False)
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be an integer"):
        project_settings.env_int("SOME_NUMBER", 1)


def test_every_setting_read_from_the_environment_is_in_the_readme() -> None:
    import re

    names = set(
        re.findall(r'env_\w+\("([A-Z_]+)"', (REPO_ROOT / "readerstudy" / "settings.py").read_text())
    )
    readme = (REPO_ROOT / "README.md").read_text()
    table = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert names, "the settings read their values with env_* helpers"
    assert names <= table, f"missing from the README's configuration table: {names - table}"


def test_an_unknown_media_accel_is_refused_at_start() -> None:
    result = run_manage("check", env={**PRODUCTION, "READERSTUDY_MEDIA_ACCEL": "apache"})
    assert result.returncode != 0
    assert "READERSTUDY_MEDIA_ACCEL must be nginx, sendfile or off" in result.stderr
