"""Services send their own package's tasks by name (no import cycle); the name must resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

from readerstudy.celery import task_by_name
from tests.support.env import REPO_ROOT


def test_a_web_process_finds_a_task_whose_module_it_never_imported():
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "from readerstudy.celery import task_by_name\n"
        "assert 'readerstudy.scoring.tasks' not in sys.modules\n"
        "task = task_by_name('readerstudy.scoring.tasks.saliency_compute')\n"
        "from django.conf import settings\n"
        "assert task.queue == settings.READERSTUDY_SCORING_QUEUE, task.queue\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
        env={
            "DJANGO_SETTINGS_MODULE": "readerstudy.settings",
            "DJANGO_DEBUG": "true",
            "PATH": "/usr/bin:/bin",
        },
    )


def test_a_misspelt_task_name_fails_at_once_instead_of_sending_to_nobody():
    with pytest.raises(KeyError):
        task_by_name("readerstudy.analysis.tasks.tsne_compute_typo")
