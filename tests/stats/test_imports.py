"""The statistics stay importable without Django: the torch-only classifier imports them."""

from __future__ import annotations

import subprocess
import sys

from tests.support.env import REPO_ROOT


def test_the_analysis_modules_import_no_django():
    code = (
        "import sys\n"
        "import readerstudy.stats.cli, readerstudy.stats.simulate\n"
        "import readerstudy.stats.study, readerstudy.stats.formats\n"
        "import readerstudy.stats.power, readerstudy.stats.planning\n"
        "import readerstudy.stats.diagnosis_cli\n"
        "import readerstudy.stats.aided_mrmc, readerstudy.stats.aided_diagnosis\n"
        "import readerstudy.stats.switching, readerstudy.stats.experience\n"
        "import readerstudy.stats.simulate_aided\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'django')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=120)
