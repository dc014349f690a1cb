"""The CNN's probability of a case is read in one place: scoring.selectors.study_cnn_probabilities.

Feedback, exports, analyses, t-SNE maps, the case page and the confound audit call it, so that
a change of what "the algorithm's probability" means (which model, which cases) reaches all of
them at once.
"""

from __future__ import annotations

import pytest

from readerstudy.scoring.selectors import study_cnn_probabilities
from tests.factories import CaseFactory, StudyFactory, cnn_scores_create
from tests.support.source import calls_with_string, python_modules

THE_SELECTOR = "readerstudy/scoring/selectors.py"


def test_no_module_but_the_scoring_selectors_queries_cnn_probabilities() -> None:
    found = {
        path: lines
        for path, tree in python_modules()
        if path != THE_SELECTOR
        and (lines := calls_with_string(tree, {"values_list", "values", "only"}, "probability"))
    }
    assert found == {}, f"query the CNN probabilities with study_cnn_probabilities: {found}"


@pytest.mark.django_db
def test_the_probabilities_are_the_study_algorithms_and_can_be_narrowed_to_some_cases(
    default_model,
) -> None:
    study, other = StudyFactory(), StudyFactory()
    cases = [CaseFactory(study=study) for _ in range(3)]
    elsewhere = CaseFactory(study=other)
    cnn_scores_create([*cases[:2], elsewhere], default_model, [0.2, 0.9, 0.5], [[0.0]] * 3)
    assert study_cnn_probabilities(study) == {cases[0].pk: 0.2, cases[1].pk: 0.9}
    narrowed = study_cnn_probabilities(study, default_model, case_ids=[cases[1].pk])
    assert narrowed == {cases[1].pk: 0.9}
