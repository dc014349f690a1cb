from __future__ import annotations

import pytest

from readerstudy.scoring.selectors import model_version_active_get


@pytest.fixture
def default_model(db):
    model_version = model_version_active_get("melanoma-vs-nevus")
    assert model_version is not None, "register_shipped_model runs after migrate"
    return model_version
