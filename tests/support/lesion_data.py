"""Where the real skin-lesion data of the classifier tests lie (../shared/data)."""

from __future__ import annotations

import pytest

from tests.support.env import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared"


DATA = SHARED / "data"


HAM10000 = DATA / "ham10000"


ISIC = DATA / "isic-uda1-demo"


needs_data = pytest.mark.skipif(
    not SHARED.exists(), reason="../shared (the real HAM10000/ISIC images) is not checked out here"
)


# 70 of HAM10000's images at their original 600 x 450 (the same image_ids as in HAM10000).
HAM10000_FULLRES = DATA / "ham10000-fullres-sample"
