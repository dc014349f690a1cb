"""The layers of the code (.importlinter) hold, and the check would catch a step back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.env import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / ".importlinter")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The code and the contracts, copied where a test may break them."""
    for package in ("readerstudy", "classifier"):
        shutil.copytree(
            REPO_ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pt", "*.onnx", "*.csv"),
        )
    shutil.copy(REPO_ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_the_code_keeps_its_layers():
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_a_cycle_between_apps_is_refused(tree_copy):
    # studies is below analysis: a study module reaching up would close a cycle.
    append(tree_copy / "readerstudy/studies/selectors.py", "import readerstudy.analysis.selectors")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "readerstudy.studies is not allowed to import readerstudy.analysis" in result.stdout


def test_a_function_local_import_that_closes_a_cycle_is_refused_too(tree_copy):
    # The way cycles used to be kept alive: an import hidden inside a function.
    services = tree_copy / "readerstudy/core/services.py"
    append(services, "def _late():\n    from readerstudy.core import tasks  # noqa")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "No cycles are allowed in readerstudy.core" in result.stdout


def test_the_classifier_may_not_import_the_web_app(tree_copy):
    append(tree_copy / "classifier/taxonomy.py", "import readerstudy.studies.models")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "classifier" in result.stdout and "readerstudy.studies" in result.stdout


def test_the_statistics_may_not_import_django(tree_copy):
    append(tree_copy / "readerstudy/stats/roc.py", "import django.db")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "readerstudy.stats is not allowed to import django" in result.stdout


def test_an_app_may_not_import_another_app_s_tasks(tree_copy):
    append(tree_copy / "readerstudy/analysis/views.py", "import readerstudy.scoring.tasks")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "readerstudy.analysis is not allowed to import readerstudy.scoring.tasks" in (
        result.stdout
    )
