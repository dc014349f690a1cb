from __future__ import annotations

import pytest

from readerstudy.scoring.selectors import active_model_for_task


@pytest.fixture
def default_model(db):
    model_version = active_model_for_task("melanoma-vs-nevus")
    assert model_version is not None, "register_shipped_model runs after migrate"
    return model_version
