"""A scoring worker reads a model from disk once: its predictors are kept per process, keyed by
the model version's sha256 (the one predictor cache; classifier.predictor keeps none)."""

from __future__ import annotations

from typing import Any

import pytest

from classifier.predictor import Predictor
from readerstudy.scoring import inference


def test_a_worker_loads_a_model_once_and_scores_with_the_same_predictor(
    default_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Any] = []
    load = Predictor.from_checkpoint

    def counted_load(*args: Any, **kwargs: Any) -> Predictor:
        loads.append(args)
        return load(*args, **kwargs)

    monkeypatch.setattr(Predictor, "from_checkpoint", counted_load)
    monkeypatch.setattr(inference, "_PREDICTORS", {})

    first = inference.predictor_for(default_model)
    assert inference.predictor_for(default_model) is first
    assert inference.network_predictor_for(default_model) is first
    assert len(loads) == 1
    assert inference._PREDICTORS == {default_model.sha256: first}
