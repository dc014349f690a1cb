"""Web processes and light commands stay light: torch loads only where the CNN runs."""

from __future__ import annotations

import subprocess
import sys

from tests.support.env import REPO_ROOT

PROBE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
import django
django.setup()
import readerstudy.urls  # every view, serializer and admin module
from django.core.management import call_command
print(sorted(m for m in ("torch", "torchvision", "timm") if m in sys.modules))
"""


def test_a_web_process_imports_no_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DJANGO_DEBUG": "true", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
