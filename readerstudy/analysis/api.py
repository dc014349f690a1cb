"""REST API of the analysis package."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.permissions import IsCoordinatorOrAnalyst
from readerstudy.analysis.selectors import analysis_dict, study_analysis_get
from readerstudy.core.access import study_for_staff


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
