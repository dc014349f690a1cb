"""Two algorithms on the same cases: the paired DeLong test of their AUCs (DeLong et al.
1988, as pROC's ``roc.test``) and both ROC curves, for a study that several algorithms scored
(the study's own CNN against a group's ONNX model or a device's imported scores)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import model_version_brief, study_cnn_probabilities
from readerstudy.stats.roc import PairedTest, RocCurve, paired_test, roc_curve
from readerstudy.studies.models import Case, Study

SECOND_COLOUR = "#7d3c98"


@dataclass(frozen=True)
class AlgorithmComparison:
    first: ModelVersion
    second: ModelVersion
    n_cases: int
    n_positive: int
    test: PairedTest
    roc_first: RocCurve
    roc_second: RocCurve

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": model_version_brief(self.first),
            "second": model_version_brief(self.second),
            "cases": self.n_cases,
            "positive": self.n_positive,
            "auc_first": self.test.auc_first,
            "auc_second": self.test.auc_second,
            "difference": self.test.diff,
            "difference_ci": list(self.test.ci),
            "z": self.test.z,
            "p": self.test.p,
            "method": "paired DeLong (DeLong et al. 1988)",
            "roc_second": {
                "fpr": self.roc_second.fpr.tolist(),
                "tpr": self.roc_second.tpr.tolist(),
            },
        }


def algorithm_comparison(
    study: Study, first: ModelVersion, second: ModelVersion
) -> AlgorithmComparison | None:
    """The two algorithms on the cases both scored; None without cases of both classes."""
    scores = {model.pk: study_cnn_probabilities(study, model) for model in (first, second)}
    cases = [
        (pk, truth)
        for pk, truth in Case.objects.filter(study=study)
        .order_by("position")
        .values_list("pk", "truth")
        if pk in scores[first.pk] and pk in scores[second.pk]
    ]
    truth = np.asarray([int(t) for _, t in cases], dtype=np.int8)
    if not 0 < int(truth.sum()) < len(truth):
        return None
    a = np.asarray([scores[first.pk][pk] for pk, _ in cases])
    b = np.asarray([scores[second.pk][pk] for pk, _ in cases])
    return AlgorithmComparison(
        first=first,
        second=second,
        n_cases=len(cases),
        n_positive=int(truth.sum()),
        test=paired_test(truth, a, b),
        roc_first=roc_curve(truth, a),
        roc_second=roc_curve(truth, b),
    )


def add_second_curve(figure: Any, comparison: AlgorithmComparison) -> None:
    """Draw the second algorithm's ROC curve on the study's figure (a plotly Figure)."""
    import plotly.graph_objects as go  # plotly loads with the figure, never at import

    test = comparison.test
    figure.add_trace(
        go.Scatter(
            x=comparison.roc_second.fpr.tolist(),
            y=comparison.roc_second.tpr.tolist(),
            mode="lines",
            line={"color": SECOND_COLOUR, "width": 3, "dash": "dash"},
            name=(
                f"{comparison.second.name} (AUC {test.auc_second:.3f}; "
                f"paired DeLong p = {test.p:.3g})"
            ),
            hovertemplate=(
                f"{comparison.second.name}<br>1 - specificity %{{x:.3f}}"
                "<br>sensitivity %{y:.3f}<extra></extra>"
            ),
        )
    )
