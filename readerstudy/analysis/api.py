"""REST API of the analysis package."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.permissions import IsCoordinatorOrAnalyst
from readerstudy.analysis.comparison import algorithm_comparison
from readerstudy.analysis.selectors import analysis_dict, study_analysis_get
from readerstudy.core.access import study_for_staff
from readerstudy.scoring.selectors import model_version_brief, study_algorithm, study_algorithms


class AnalysisQuerySerializer(serializers.Serializer):
    identities = serializers.BooleanField(default=False, help_text="name readers by account")


class StudyAnalysisView(APIView):
    """The study's full analysis (the JSON export): CNN ROC and AUC, every reader's point,
    the average reader, operating-point comparisons and the MRMC test."""

    permission_classes = [IsCoordinatorOrAnalyst]

    @extend_schema(parameters=[AnalysisQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        study = study_for_staff(request.user, pk)
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data, analysis = study_analysis_get(study)
        identities = query.validated_data["identities"]
        return Response(analysis_dict(data, analysis, identities=identities))


class CompareQuerySerializer(serializers.Serializer):
    compare = serializers.IntegerField(
        required=False, help_text="Only this model version (default: every other one)"
    )


class StudyAlgorithmComparisonView(APIView):
    """The study's algorithm against each other algorithm that scored it, on the cases both
    scored: both AUCs, the paired DeLong test (DeLong et al. 1988) and the second ROC curve."""

    permission_classes = [IsCoordinatorOrAnalyst]

    @extend_schema(parameters=[CompareQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        study = study_for_staff(request.user, pk)
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first = study_algorithm(study)
        others = [m for m in study_algorithms(study) if m != first]
        wanted = query.validated_data.get("compare")
        if wanted is not None:
            others = [m for m in others if m.pk == wanted]
            if not others:
                raise ValidationError(
                    {"compare": ["not another model version that scored this study's cases"]}
                )
        comparisons = (
            [] if first is None else [algorithm_comparison(study, first, m) for m in others]
        )
        return Response(
            {
                "algorithm": model_version_brief(first),
                "comparisons": [c.to_dict() for c in comparisons if c is not None],
            }
        )
