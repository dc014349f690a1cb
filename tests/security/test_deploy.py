"""Production settings, as a deployment sets them, pass ``check --deploy`` and really send
strict headers and cookies.

Both tests run Django in a subprocess with production environment values (DEBUG off, a
secret key, an allowed host) and nothing of the test run's environment. The second one
migrates a throwaway SQLite database there, logs in over HTTPS through the test client and
reports the settings, the headers and the Set-Cookie attributes it saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.env import REPO_ROOT

HOST = "readerstudy.example.org"
ONE_YEAR = 31_536_000
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "readerstudy.settings",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "t8Kq2Zr5Wm9Lx3Vb7Nc1Hs6Jd4Fg0Ty8Ue2Io5Pa3Sd7Gh9Jk1Lz4Xc6Vb2Nm8Qw0E",
    "DJANGO_ALLOWED_HOSTS": HOST,
}
# The test run's own environment (tests/environment.py, CI's database and broker) stays out.
TEST_RUN_PREFIXES = ("DJANGO_", "READERSTUDY_", "DATABASE_", "CELERY_", "MEDIA_ROOT")

REPORT = r"""
import json, django
django.setup()
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
User.objects.create_user("deploy-check", password="a long deploy-check password")
client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
plain = client.get("/accounts/login/")
page = client.get("/accounts/login/", secure=True)
login = client.post(
    "/accounts/login/",
    {"username": "deploy-check", "password": "a long deploy-check password"},
    secure=True,
)
api = client.get("/api/v1/reading/studies/", secure=True)

def cookie(response, name):
    morsel = response.cookies[name]
    return {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"]}

print(json.dumps({
    "settings": {name: getattr(settings, name) for name in (
        "DEBUG", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE",
        "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS")},
    "csp_object_src": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["object-src"],
    "plain": {"status": plain.status_code, "location": plain.get("Location", "")},
    "page": {"status": page.status_code, "headers": dict(page.items())},
    "api": {"status": api.status_code, "headers": dict(api.items())},
    "login": {"status": login.status_code, "session": cookie(login, settings.SESSION_COOKIE_NAME),
              "csrf": cookie(page, settings.CSRF_COOKIE_NAME)},
}))
"""


def run_production(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(TEST_RUN_PREFIXES)}
    places = {
        "READERSTUDY_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**clean, **PRODUCTION, **places},
        capture_output=True,
        text=True,
        timeout=180,
    )


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            parsed[name] = sources
    return parsed


def test_check_deploy_is_clean_at_warning_level_with_production_values(tmp_path: Path) -> None:
    result = run_production(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict:
    result = run_production(["-c", REPORT], tmp_path_factory.mktemp("production"))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_ask_for_hsts_secure_cookies_nosniff_and_deny(production) -> None:
    settings = production["settings"]
    assert settings["DEBUG"] is False
    assert settings["SECURE_HSTS_SECONDS"] >= ONE_YEAR
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SESSION_COOKIE_SECURE"] and settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    # The CSRF token reaches scripts through the page's form field, so its cookie is
    # HttpOnly as well.
    assert settings["CSRF_COOKIE_SECURE"] and settings["CSRF_COOKIE_HTTPONLY"]
    assert settings["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert settings["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert settings["X_FRAME_OPTIONS"] == "DENY"
    assert production["csp_object_src"] == ["'none'"]


def test_plain_http_is_redirected_to_https(production) -> None:
    assert production["plain"]["status"] == 301
    assert production["plain"]["location"] == f"https://{HOST}/accounts/login/"


@pytest.mark.parametrize("response", ["page", "api"])
def test_responses_carry_hsts_csp_nosniff_and_frame_deny(production, response: str) -> None:
    headers = production[response]["headers"]
    hsts = [part.strip() for part in headers["Strict-Transport-Security"].split(";")]
    max_age = next(int(part.split("=", 1)[1]) for part in hsts if part.startswith("max-age="))
    assert max_age >= ONE_YEAR
    assert "includeSubDomains" in hsts
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    if response == "page":
        assert production["page"]["status"] == 200
        policy = directives(headers["Content-Security-Policy"])
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        for directive in ("default-src", "script-src", "style-src"):
            assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy[directive])


def test_session_and_csrf_cookies_are_secure_httponly_and_samesite(production) -> None:
    assert production["login"]["status"] == 302
    for name in ("session", "csrf"):
        cookie = production["login"][name]
        assert cookie["secure"] and cookie["httponly"], name
        assert cookie["samesite"] in ("Lax", "Strict"), name
