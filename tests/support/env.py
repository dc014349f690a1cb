"""Where the tests run: CI must have the real services; elsewhere a missing one skips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("READERSTUDY_CHROMIUM", "/usr/bin/chromium"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` fails on a developer machine; fail under CI=true."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI requires this, but: {reason}")
    pytest.skip(reason)


def shared_dir() -> Path:
    from django.conf import settings

    return Path(settings.SHARED_DIR)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips (fails in CI) when ../shared is absent."""
    from django.conf import settings

    path = Path(settings.SHARED_DATA_DIR).joinpath(*parts)
    require(path.exists(), f"{path} is absent: the real data in ../shared is not beside the repo")
    return path


def chromium_available() -> bool:
    return CHROMIUM.exists() or shutil.which("chromium") is not None
