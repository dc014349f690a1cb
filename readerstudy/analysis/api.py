"""REST API of the analysis package."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.permissions import IsCoordinatorOrAnalyst
from readerstudy.analysis.comparison import algorithm_comparison
from readerstudy.analysis.diagnosis import diagnosis_analysis_get, diagnosis_export_dict
from readerstudy.analysis.exports import EXPORT_FORMATS
from readerstudy.analysis.selectors import analysis_dict, study_analysis_get
from readerstudy.analysis.views import export_response
from readerstudy.scoring.selectors import (
    model_version_brief,
    study_algorithm_get,
    study_algorithm_list,
)
from readerstudy.studies.access import study_for_staff_or_404
from readerstudy.studies.subgroups import SUBGROUP_CHOICES, ReaderSubgroup

# The exports an API client fetches: the data and the report (the figure's PNG and SVG are
# drawn by a headless browser, for the page and ``export_report``).
API_EXPORT_FORMATS = ("csv", "json", "imrmc", "ratings", "html", "readers", "diagnosis")


class AnalysisQuerySerializer(serializers.Serializer):
    identities = serializers.BooleanField(default=False, help_text="name readers by account")
    partial = serializers.BooleanField(
        default=False,
        help_text="count readers who have not graded every case in the average reader and the "
        "operating-point comparisons (never in MRMC)",
    )
    position = serializers.ChoiceField(
        choices=SUBGROUP_CHOICES["position"],
        required=False,
        allow_blank=True,
        help_text="only readers of this position (their profile)",
    )
    experience = serializers.ChoiceField(
        choices=SUBGROUP_CHOICES["experience"],
        required=False,
        allow_blank=True,
        help_text="only readers with this many years of dermoscopy experience (their profile)",
    )

    def subgroup(self) -> ReaderSubgroup:
        return ReaderSubgroup.from_query(self.validated_data)


class StudyAnalysisAPI(APIView):
    """The study's full analysis (the JSON export): CNN ROC and AUC, every reader's point,
    the average reader, operating-point comparisons and the MRMC test."""

    permission_classes = [IsCoordinatorOrAnalyst]

    @extend_schema(parameters=[AnalysisQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id)
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data, analysis = study_analysis_get(
            study, include_partial=query.validated_data["partial"], subgroup=query.subgroup()
        )
        identities = query.validated_data["identities"]
        return Response(analysis_dict(data, analysis, identities=identities))


class DiagnosisQuerySerializer(AnalysisQuerySerializer):
    partial = serializers.BooleanField(
        default=False,
        help_text="count readers who have not answered every case in the average reader "
        "(never in the CNN-vs-panel bootstrap or Fleiss' kappa)",
    )


class StudyDiagnosisAPI(APIView):
    """The study's diagnosis analysis, under the keys of ``analyze_diagnoses --json``: each
    reader's and the CNN's accuracy (Wilson CI), mean recall, per-class sensitivity and
    specificity and confusion matrix; Fleiss' and Cohen's kappa; the CNN against each reader
    (exact McNemar) and the panel (case-and-reader bootstrap). 404 for a study that asks no
    diagnosis."""

    permission_classes = [IsCoordinatorOrAnalyst]

    @extend_schema(parameters=[DiagnosisQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id)
        query = DiagnosisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = diagnosis_analysis_get(
            study,
            identities=query.validated_data["identities"],
            include_partial=query.validated_data["partial"],
            subgroup=query.subgroup(),
        )
        if found is None:
            raise NotFound("this study asks no diagnosis")
        return Response(diagnosis_export_dict(*found))


class AnyAccept(BaseContentNegotiation):
    """A file is answered in its own type whatever the client accepts (``Accept: text/csv``
    would otherwise be refused with 406, as only JSON is rendered); errors stay JSON."""

    def select_parser(self, request, parsers):  # type: ignore[no-untyped-def]
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):  # type: ignore[no-untyped-def]
        return renderers[0], renderers[0].media_type


class StudyExportAPI(APIView):
    """One export of the study as the analysis page offers it: every decision (csv), the
    analysis (json), the ratings for iMRMC/RJafroc (imrmc) or as a long CSV (ratings), and
    the self-contained HTML report (html), the readers with their profiles (readers) and the
    diagnosis analysis (diagnosis)."""

    permission_classes = [IsCoordinatorOrAnalyst]
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="analysis_study_export",
        summary="Download an export of the study's data or report",
        parameters=[
            AnalysisQuerySerializer,
            OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(API_EXPORT_FORMATS)),
        ],
        responses={
            (200, EXPORT_FORMATS[fmt][0].split(";")[0]): (
                OpenApiTypes.OBJECT if fmt in ("json", "diagnosis") else OpenApiTypes.BINARY
            )
            for fmt in API_EXPORT_FORMATS
        },
    )
    def get(self, request: Request, study_id: int, fmt: str) -> HttpResponse:
        study = study_for_staff_or_404(request.user, study_id)
        if fmt not in API_EXPORT_FORMATS:
            raise NotFound("unknown export format")
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return export_response(
            study,
            fmt,
            identities=query.validated_data["identities"],
            include_partial=query.validated_data["partial"],
            subgroup=query.subgroup(),
        )


class CompareQuerySerializer(serializers.Serializer):
    compare = serializers.IntegerField(
        required=False, help_text="Only this model version (default: every other one)"
    )


class StudyAlgorithmComparisonAPI(APIView):
    """The study's algorithm against each other algorithm that scored it, on the cases both
    scored: both AUCs, the paired DeLong test (DeLong et al. 1988) and the second ROC curve."""

    permission_classes = [IsCoordinatorOrAnalyst]

    @extend_schema(parameters=[CompareQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id)
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first = study_algorithm_get(study)
        others = [m for m in study_algorithm_list(study) if m != first]
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
