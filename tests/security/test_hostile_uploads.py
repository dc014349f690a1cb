"""Every upload of the hostile corpus (tests/security/hostile.py), pushed through the import
API and task as a coordinator's browser would, is refused with an error that names the file
(and the row and field) or stored as pixels alone; none leaves a file behind or writes one
outside the upload area, and none takes more than 5 s or 1 GiB of memory."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.security.hostile import CORPUS, corpus_build
from tests.support.env import REPO_ROOT
from tests.support.worker import worker_environment

# django_db: the probe process works in the test database, which is then set up for it.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

MAX_SECONDS = 5.0
MAX_PEAK_RSS = 1024**3
# What a JPEG built from pixels alone carries: JFIF (APP0), tables, frame, scan.
PIXEL_ONLY_MARKERS = {"E0", "DB", "C0", "C4", "DD", "DA"}
REFUSED = [name for name, hostile in CORPUS.items() if hostile.refusal]
SANITISED = [name for name, hostile in CORPUS.items() if not hostile.refusal]


@pytest.fixture(scope="module")
def outcomes(django_db_setup, tmp_path_factory) -> dict[str, dict]:
    """Run the probe once over the whole corpus, in a process of its own on the test database,
    with media, uploads and temporary files in a scratch folder that it snapshots."""
    scratch = tmp_path_factory.mktemp("hostile")
    for folder in ("media/cases", "uploads/imports", "uploads/tmp", "tmp"):
        (scratch / folder).mkdir(parents=True)
    corpus_build(scratch / "corpus", marker=uuid.uuid4().hex[:12])
    results = tmp_path_factory.mktemp("hostile-results") / "outcomes.json"
    env = worker_environment(
        MEDIA_ROOT=str(scratch / "media"),
        READERSTUDY_UPLOAD_ROOT=str(scratch / "uploads"),
        TMPDIR=str(scratch / "tmp"),
    )
    probe = subprocess.run(
        [sys.executable, "-m", "tests.security.hostile", str(scratch / "corpus"), str(results)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert probe.returncode == 0, probe.stderr[-5000:]
    return json.loads(results.read_text())


def within_budget(outcome: dict) -> None:
    assert not outcome["crash"], outcome["crash"]
    assert outcome["seconds"] < MAX_SECONDS, f"took {outcome['seconds']:.1f} s"
    assert outcome["peak_rss_bytes"] < MAX_PEAK_RSS, (
        f"peak RSS {outcome['peak_rss_bytes'] / 2**20:.0f} MiB"
    )
    assert outcome["escaped"] == [], "written outside the upload area"


@pytest.mark.parametrize("name", REFUSED)
def test_a_hostile_upload_is_refused_naming_the_file_and_leaves_nothing_behind(
    outcomes, name
) -> None:
    outcome = outcomes[name]
    within_budget(outcome)
    assert outcome["status"] in ("failed", "rejected (400)"), outcome
    errors = "\n".join(outcome["errors"])
    missing = [word for word in CORPUS[name].refusal if word not in errors]
    assert not missing, f"the errors do not say {missing}:\n{errors}"
    assert outcome["stored"] == {}
    # No staged upload, unpacked member, stored image or temporary file is left, anywhere.
    assert (outcome["appeared"], outcome["vanished"]) == ([], [])


@pytest.mark.parametrize("name", SANITISED)
def test_a_hostile_image_is_stored_as_pixels_alone(outcomes, name) -> None:
    outcome = outcomes[name]
    within_budget(outcome)
    assert outcome["status"] == "succeeded", outcome["errors"]
    assert outcome["stored"], "no image stored"
    for stored_name, stored in outcome["stored"].items():
        assert stored["canaries"] == [], f"{stored_name} keeps {stored['canaries']}"
        # No EXIF/XMP (APP1), ICC (APP2), IPTC (APP13), comment (COM) or any other segment.
        assert set(stored["markers"]) <= PIXEL_ONLY_MARKERS, (stored_name, stored["markers"])
    # Only the stored images appear, all in the import's own folder under media/cases/.
    folders = {path.split("/")[2] for path in outcome["appeared"]}
    assert len(folders) == 1
    assert all(
        path.startswith("media/cases/") and (path.endswith(".jpg") or path.endswith("/"))
        for path in outcome["appeared"]
    ), outcome["appeared"]
    assert outcome["vanished"] == []


def test_the_corpus_covers_each_kind_of_attack_the_issue_names() -> None:
    kinds = ["pixel-bomb", "100-megapixels", "zip-bomb", "nested-zip", "zip-slip"]
    kinds += ["absolute-path", "symlink", "polyglot", "svg", "pdf", "exif-gps", "formula"]
    assert len(CORPUS) >= 30
    assert [kind for kind in kinds if not any(kind in name for name in CORPUS)] == []
