"""REST API for coordinators: studies, image-set uploads, import jobs, cases, enrolments.

Readers, analysts and coordinators of other studies get 404 on every route here, as on the
pages; anonymous calls get 401.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from readerstudy.accounts.permissions import IsCoordinator
from readerstudy.studies import selectors
from readerstudy.studies.confounds import (
    confound_acknowledgement_latest,
    confound_warnings_unacknowledged,
    study_confound_audit,
)
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected
from readerstudy.studies.models import Enrolment, ImportJob, Study
from readerstudy.studies.serializers import (
    CaseSerializer,
    ConfoundAuditSerializer,
    EnrolmentProfileSerializer,
    EnrolmentSerializer,
    EnrolRequestSerializer,
    EnrolResultSerializer,
    ImportJobSerializer,
    ImportReportSerializer,
    ImportUploadSerializer,
    ReaderProfileSerializer,
    ReaderProgressSerializer,
    StudyCreateSerializer,
    StudySerializer,
    StudyUpdateSerializer,
)
from readerstudy.studies.services import (
    import_job_create,
    import_undo,
    reader_profile_save,
    readers_enrol,
    study_create,
    study_delete,
    study_status_set,
    study_update,
)


class CoordinatorAPIView(GenericAPIView):
    # Anonymous: 401. Signed in without the coordinator role: 404, as if nothing were here.
    permission_classes = [IsCoordinator]

    def study(self) -> Study:
        study = selectors.study_get_for_coordinator(self.request.user, self.kwargs["study_id"])
        if study is None:
            raise NotFound("no such study")
        return study

    def import_job(self, job_id: int) -> ImportJob:
        job = selectors.import_job_get(self.study(), job_id)
        if job is None:
            raise NotFound("no such import")
        return job


def _as_drf(error: DjangoValidationError) -> ValidationError:
    return ValidationError({"detail": error.messages})


# A service's refusal (``_as_drf``): {"detail": [messages]}.
REFUSED = {"$ref": "#/components/schemas/ValidationErrors"}
# The list of ImportIssue objects that an upload's refusal answers.
ISSUE_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/ImportIssue"}}


def _serializer_issues(errors: Mapping[object, object], prefix: str = "") -> list[ImportIssue]:
    """A serializer's errors as issues: ``images.3`` names the fourth image field."""
    issues = []
    for key, value in errors.items():
        field = "" if key == api_settings.NON_FIELD_ERRORS_KEY else f"{prefix}{key}"
        if isinstance(value, Mapping):
            issues += _serializer_issues(value, prefix=f"{field}.")
        else:
            messages = value if isinstance(value, list) else [value]
            issues += [ImportIssue(field=field, message=str(message)) for message in messages]
    return issues


class StudyListCreateAPI(CoordinatorAPIView, ListAPIView):
    serializer_class = StudySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.study_list_for_coordinator(self.request.user)

    @extend_schema(request=StudyCreateSerializer, responses={201: StudySerializer})
    def post(self, request: Request) -> Response:
        incoming = StudyCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            study = study_create(created_by=request.user, **incoming.validated_data)
        except DjangoValidationError as error:
            raise _as_drf(error) from None
        return Response(StudySerializer(study).data, status=status.HTTP_201_CREATED)


class StudyDetailAPI(CoordinatorAPIView):
    serializer_class = StudySerializer

    def get(self, request: Request, study_id: int) -> Response:
        return Response(StudySerializer(self.study()).data)

    @extend_schema(request=StudyUpdateSerializer, responses={200: StudySerializer})
    def patch(self, request: Request, study_id: int) -> Response:
        study = self.study()
        incoming = StudyUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        new_status = changes.pop("status", None)
        acknowledged_by = request.user if changes.pop("acknowledge_confounds", False) else None
        try:
            with transaction.atomic():  # settings and status change together or not at all
                if changes:
                    study = study_update(study=study, **changes)
                if new_status:
                    study = study_status_set(
                        study=study, status=new_status, acknowledged_by=acknowledged_by
                    )
        except DjangoValidationError as error:
            raise _as_drf(error) from None
        return Response(StudySerializer(self.study()).data)

    @extend_schema(
        responses={204: None, 400: REFUSED},
        description="Delete a draft study with its cases, stored images, imports and "
        "enrolments. An open or closed study is refused (400).",
    )
    def delete(self, request: Request, study_id: int) -> Response:
        try:
            study_delete(study=self.study())
        except DjangoValidationError as error:
            raise _as_drf(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConfoundAuditAPI(CoordinatorAPIView):
    serializer_class = ConfoundAuditSerializer

    @extend_schema(
        description="Whether anything that is not the lesion (import batch, pixel size, file "
        "format, JPEG quality, missing clinical fields, colour; the CNN per source) predicts "
        "the truth: each property's AUC alone with its 95% CI, the warnings, and who "
        "acknowledged them. Opening a study with warnings needs acknowledge_confounds=true."
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = self.study()
        audit = study_confound_audit(study)
        return Response(
            ConfoundAuditSerializer(
                {
                    **audit.as_dict(),
                    "unacknowledged": confound_warnings_unacknowledged(study, audit),
                    "acknowledgement": confound_acknowledgement_latest(study),
                }
            ).data
        )


class ImportListCreateAPI(CoordinatorAPIView, ListAPIView):
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.import_job_list(self.study())

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        # A raw array: drf-spectacular documents many=True on an error answer as one object.
        responses={202: ImportJobSerializer, 400: ISSUE_LIST},
        description="Upload a zip (images and manifest) or a manifest with image files. The "
        "import runs in a worker: poll the returned job until it is finished.",
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = self.study()
        incoming = ImportUploadSerializer(data=request.data)
        if not incoming.is_valid():
            # One shape for every refusal of an upload: a list of issues.
            issues = _serializer_issues(incoming.errors)
            return Response([i.as_dict() for i in issues], status=status.HTTP_400_BAD_REQUEST)
        try:
            job = import_job_create(
                study=study,
                created_by=request.user,
                source=str(ImportJob.Source.API),
                options=incoming.import_options(),
                zip_file=incoming.validated_data.get("archive"),
                manifest_file=incoming.validated_data.get("manifest"),
                image_files=incoming.validated_data.get("images") or [],
            )
        except ImportRejected as rejection:
            return Response(
                [issue.as_dict() for issue in rejection.issues],
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailAPI(CoordinatorAPIView):
    serializer_class = ImportJobSerializer

    def get(self, request: Request, study_id: int, job_id: int) -> Response:
        return Response(ImportJobSerializer(self.import_job(job_id)).data)


class ImportUndoAPI(CoordinatorAPIView):
    serializer_class = ImportJobSerializer

    @extend_schema(
        request=None,
        responses={200: ImportJobSerializer, 400: REFUSED},
        description="Undo a finished import into a draft study: its cases and their stored "
        "images are deleted, all or nothing; the job stays, with status undone.",
    )
    def post(self, request: Request, study_id: int, job_id: int) -> Response:
        job = self.import_job(job_id)
        try:
            job = import_undo(job=job)
        except DjangoValidationError as error:
            raise _as_drf(error) from None
        return Response(ImportJobSerializer(job).data)


class ImportReportAPI(CoordinatorAPIView):
    serializer_class = ImportReportSerializer

    def get(self, request: Request, study_id: int, job_id: int) -> Response:
        job = self.import_job(job_id)
        return Response(ImportReportSerializer(job).data)


class CaseListAPI(CoordinatorAPIView, ListAPIView):
    serializer_class = CaseSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.case_list(self.study())


class EnrolmentListCreateAPI(CoordinatorAPIView, ListAPIView):
    serializer_class = EnrolmentSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.enrolment_list(self.study())

    @extend_schema(
        request=EnrolRequestSerializer, responses={201: EnrolResultSerializer(many=True)}
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = self.study()
        incoming = EnrolRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            outcomes = readers_enrol(
                study=study,
                usernames=incoming.validated_data["readers"],
                enrolled_by=request.user,
                create=incoming.validated_data["create"],
                credentials=incoming.validated_data["credentials"],
            )
        except DjangoValidationError as error:
            raise _as_drf(error) from None
        results = [
            {
                "enrolment": outcome.enrolment,
                "created_account": outcome.created_account,
                "already_enrolled": outcome.already_enrolled,
                "initial_password": outcome.initial_password,
                "set_password_url": request.build_absolute_uri(outcome.set_password_path)
                if outcome.set_password_path
                else None,
            }
            for outcome in outcomes
        ]
        response = Response(
            EnrolResultSerializer(results, many=True).data, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"
        return response


class ReaderProgressAPI(CoordinatorAPIView):
    """Every enrolled reader's progress: answered of total, last answer, finished."""

    serializer_class = ReaderProgressSerializer
    pagination_class = None  # one row per reader: the whole panel at once

    @extend_schema(responses=ReaderProgressSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        progress = selectors.reader_progress_list(self.study())
        return Response(ReaderProgressSerializer(progress, many=True).data)


class EnrolmentProfileAPI(CoordinatorAPIView):
    """One enrolled reader's profile, as the coordinator sees and corrects it."""

    serializer_class = EnrolmentProfileSerializer

    def get_object(self) -> Enrolment:
        enrolment = selectors.enrolment_get(self.study(), self.kwargs["enrolment_id"])
        if enrolment is None:
            raise NotFound("no such reader")
        return enrolment

    def _answer(self, enrolment: Enrolment) -> Response:
        profile = selectors.reader_profile_get(enrolment)
        return Response(
            {
                "pseudonym": enrolment.pseudonym,
                "profile": None if profile is None else ReaderProfileSerializer(profile).data,
            }
        )

    @extend_schema(responses=EnrolmentProfileSerializer)
    def get(self, request: Request, study_id: int, enrolment_id: int) -> Response:
        return self._answer(self.get_object())

    @extend_schema(
        request=ReaderProfileSerializer,
        responses={200: EnrolmentProfileSerializer, 400: REFUSED},
        description="Create or replace the profile; refused once the study is closed.",
    )
    def put(self, request: Request, study_id: int, enrolment_id: int) -> Response:
        enrolment = self.get_object()
        incoming = ReaderProfileSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            reader_profile_save(
                enrolment=enrolment, saved_by=request.user, **incoming.validated_data
            )
        except DjangoValidationError as error:
            raise _as_drf(error) from None
        return self._answer(enrolment)
