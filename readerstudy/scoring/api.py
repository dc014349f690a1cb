"""REST API of the scoring package: model versions and study scoring."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.permissions import IsCoordinator, IsCoordinatorOrAnalyst
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.registration import ModelRegistrationError, model_version_register_upload
from readerstudy.scoring.score_imports import ScoreImportError, scores_import_upload
from readerstudy.scoring.selectors import (
    model_version_get,
    model_version_task_list,
    study_algorithm_get,
    study_algorithm_list,
    study_scoring_progress_get,
)
from readerstudy.scoring.services import (
    model_version_activate,
    study_algorithm_choose,
    study_scoring_enqueue,
)
from readerstudy.studies.access import study_for_staff_or_404
from readerstudy.studies.models import Study


class ModelVersionSerializer(serializers.ModelSerializer):
    """The model card: name, kind, who registered it, sha256, classes, taxonomy mapping and
    its own stated metrics."""

    active_for = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "kind",
            "arch",
            "sha256",
            "file_sha256",
            "description",
            "taxonomy_mapping",
            "created_by",
            "taxonomy_version",
            "input_size",
            "class_names",
            "metrics",
            "data_summary",
            "clinical_metadata",
            "created_at",
            "active_for",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, obj: ModelVersion) -> str | None:
        """Who registered it (None: the installation, for the shipped model)."""
        return obj.created_by.get_username() if obj.created_by else None

    def get_active_for(self, obj: ModelVersion) -> list[str]:
        return model_version_task_list(obj)


class ModelUploadSerializer(serializers.Serializer):
    checkpoint = serializers.FileField(
        help_text="A checkpoint written by classifier.train, an ONNX file, or a timm state_dict"
    )
    config = serializers.FileField(
        required=False, help_text="The JSON description of an ONNX model or timm state_dict"
    )
    arch = serializers.CharField(
        required=False, max_length=64, help_text="With config: the timm architecture"
    )
    name = serializers.CharField(required=False, max_length=128)


class ScoreImportSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, help_text="The algorithm's name")
    scores = serializers.FileField(
        help_text="CSV: source_id, and probability or one column per taxonomy class"
    )


class AlgorithmChoiceSerializer(serializers.Serializer):
    model = serializers.IntegerField(help_text="A model version that scored the study")


class StudyAlgorithmsSerializer(serializers.Serializer):
    analysed_with = ModelVersionSerializer(allow_null=True)
    algorithms = ModelVersionSerializer(many=True)


class ActivateSerializer(serializers.Serializer):
    tasks = serializers.ListField(
        child=serializers.CharField(max_length=64),
        min_length=1,
        help_text='Task names, or ["*"] for every task without a model of its own',
    )


class ScoringProgressSerializer(serializers.Serializer):
    model = inline_serializer(
        "ScoringModel",
        {
            "id": serializers.IntegerField(),
            "name": serializers.CharField(),
            "kind": serializers.CharField(),
            "sha256": serializers.CharField(),
        },
        allow_null=True,
    )
    total = serializers.IntegerField()
    scored = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()
    done = serializers.BooleanField()
    rate_per_second = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    failures = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class ModelVersionListCreateAPI(generics.ListCreateAPIView):
    """Registered model versions; coordinators upload new checkpoints here."""

    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer
    parser_classes = [MultiPartParser]

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [IsCoordinator()]
        return [IsCoordinatorOrAnalyst()]

    @extend_schema(request=ModelUploadSerializer, responses={201: ModelVersionSerializer})
    def post(self, request: Request) -> Response:
        upload = ModelUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["checkpoint"]
        config = upload.validated_data.get("config")
        try:
            model_version = model_version_register_upload(
                upload=file,
                filename=file.name,
                created_by=request.user,  # type: ignore[arg-type]
                name=upload.validated_data.get("name"),
                config=config,
                config_filename=config.name if config else "description.json",
                arch=upload.validated_data.get("arch"),
            )
        except ModelRegistrationError as error:
            raise ValidationError({"config" if config else "checkpoint": [str(error)]}) from None
        return Response(ModelVersionSerializer(model_version).data, status=status.HTTP_201_CREATED)


class ModelVersionDetailAPI(generics.RetrieveAPIView):
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer
    permission_classes = [IsCoordinatorOrAnalyst]
    lookup_url_kwarg = "model_id"


class ModelVersionActivateAPI(APIView):
    """Make a model version score the studies of some tasks; their unscored cases are sent."""

    permission_classes = [IsCoordinator]

    @extend_schema(request=ActivateSerializer, responses={200: ModelVersionSerializer})
    def post(self, request: Request, model_id: int) -> Response:
        model_version = model_version_get(model_id)
        if model_version is None:
            raise NotFound()
        body = ActivateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                model_version_activate(
                    model_version=model_version,
                    tasks=body.validated_data["tasks"],
                    requested_by=request.user,  # type: ignore[arg-type]
                )
        except ValueError as error:
            raise ValidationError({"tasks": [str(error)]}) from None
        return Response(ModelVersionSerializer(model_version).data)


class StudyScoringAPI(APIView):
    """GET: scoring progress of a study. POST: send its unscored cases to the workers."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsCoordinator()] if self.request.method == "POST" else [IsCoordinatorOrAnalyst()]

    @extend_schema(responses={200: ScoringProgressSerializer})
    def get(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id)
        return Response(study_scoring_progress_get(study).to_dict())

    @extend_schema(request=None, responses={202: ScoringProgressSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id, change=True)
        run = study_scoring_enqueue(study=study, reason="api", requested_by=request.user)  # type: ignore[arg-type]
        if run is None:
            raise ValidationError({"model": [f"no model is active for the task {study.task}"]})
        return Response(
            study_scoring_progress_get(study).to_dict(), status=status.HTTP_202_ACCEPTED
        )


class StudyScoreImportAPI(APIView):
    """Import the scores of an algorithm that cannot run here (all or nothing)."""

    permission_classes = [IsCoordinator]
    parser_classes = [MultiPartParser]

    @extend_schema(request=ScoreImportSerializer, responses={201: ModelVersionSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id, change=True)
        body = ScoreImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            model_version = scores_import_upload(
                study=study,
                upload=body.validated_data["scores"],
                name=body.validated_data["name"],
                created_by=request.user,  # type: ignore[arg-type]
            )
        except ScoreImportError as error:
            raise ValidationError({"scores": error.problems}) from None
        return Response(ModelVersionSerializer(model_version).data, status=status.HTTP_201_CREATED)


class StudyAlgorithmAPI(APIView):
    """GET: the algorithm the study's analysis uses and every algorithm that scored it.
    POST: choose the one the analysis uses."""

    permission_classes = [IsCoordinatorOrAnalyst]

    def _body(self, study: Study) -> dict[str, object]:
        chosen = study_algorithm_get(study)
        return {
            "analysed_with": ModelVersionSerializer(chosen).data if chosen else None,
            "algorithms": ModelVersionSerializer(study_algorithm_list(study), many=True).data,
        }

    @extend_schema(responses={200: StudyAlgorithmsSerializer})
    def get(self, request: Request, study_id: int) -> Response:
        return Response(self._body(study_for_staff_or_404(request.user, study_id)))

    @extend_schema(request=AlgorithmChoiceSerializer, responses={200: StudyAlgorithmsSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id)
        body = AlgorithmChoiceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model_version = next(
            (m for m in study_algorithm_list(study) if m.pk == body.validated_data["model"]), None
        )
        if model_version is None:
            raise ValidationError({"model": ["this model version has scored no case of the study"]})
        try:
            study_algorithm_choose(
                study=study,
                model_version=model_version,
                chosen_by=request.user,  # type: ignore[arg-type]
            )
        except ValueError as error:
            raise ValidationError({"model": [str(error)]}) from None
        return Response(self._body(study))
