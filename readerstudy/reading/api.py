"""The grading flow as a REST API (mounted under /api/v1/reading/), for any front end.

The grading page itself uses these endpoints. A reader lists their studies, asks for the next
case (which comes with a one-time token), submits an answer with that token (the response
already carries the next case), and reads their progress. A submit is idempotent: repeating
it with the same token returns the stored decision (200, ``replayed: true``) and stores
nothing. Studies the reader is not enrolled in, or that are not open, answer 404.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.permissions import IsReader
from readerstudy.reading import selectors, services
from readerstudy.reading.columns import DECISION_ANSWER_COLUMNS
from readerstudy.reading.models import Decision, Phase
from readerstudy.reading.presenters import serving_payload, study_settings
from readerstudy.studies.design import DESIGNS
from readerstudy.studies.models import Enrolment, Study
from readerstudy.studies.selectors import (
    reader_consent_missing,
    reader_profile_get,
    reader_profile_initial,
    reader_profile_missing,
)
from readerstudy.studies.serializers import ReaderProfileSerializer
from readerstudy.studies.services import enrolment_consent_give, reader_profile_save


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    finished = serializers.BooleanField()


class ChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    key = serializers.CharField(help_text="The keyboard key of the grading page (may be empty)")


class ConfidenceScaleSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The answer field that holds it")
    legend = serializers.CharField()
    min = serializers.IntegerField()
    max = serializers.IntegerField()
    hint = serializers.CharField()
    words = serializers.DictField(child=serializers.CharField(), help_text="value -> words")


class QuestionSerializer(serializers.Serializer):
    """One question of the study's design (studies/design.py)."""

    name = serializers.CharField(help_text="The answer field that holds the chosen value")
    kind = serializers.ChoiceField(choices=["management", "diagnosis"])
    prompt = serializers.CharField()
    legend = serializers.CharField()
    picker = serializers.ChoiceField(choices=["buttons", "search"])
    choices = ChoiceSerializer(many=True)
    confidence = ConfidenceScaleSerializer(allow_null=True)


class ReaderStudySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    question = serializers.CharField()
    status = serializers.CharField()
    confidence_scale = serializers.CharField()
    confidence_min = serializers.IntegerField()
    confidence_max = serializers.IntegerField()
    allow_answer_changes = serializers.BooleanField()
    show_clinical_info = serializers.BooleanField()
    design = serializers.ChoiceField(choices=list(DESIGNS.items()))
    questions = QuestionSerializer(many=True)
    ai_assistance = serializers.ChoiceField(choices=Study.AiAssistance.choices)
    consent_text = serializers.CharField(allow_blank=True)
    progress = ProgressSerializer()


class ClinicalInfoSerializer(serializers.Serializer):
    age = serializers.IntegerField(allow_null=True)
    sex = serializers.CharField(allow_blank=True)
    site = serializers.CharField(allow_blank=True)


_CLASS_HELP = (
    "The class chosen, a code of the study's class scheme (its grading settings list them: "
    "`questions`); null in studies that do not ask a diagnosis"
)


class AnswerSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.Choice.choices, allow_null=True)
    confidence = serializers.IntegerField(allow_null=True)
    diagnosis_class = serializers.CharField(allow_null=True, help_text=_CLASS_HELP)
    diagnosis_confidence = serializers.IntegerField(allow_null=True)
    revision = serializers.IntegerField()
    text = serializers.CharField(help_text="The answer in words, as the grading page shows it")


class AiClassSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    probability = serializers.FloatField()


class AiOutputSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False where the CNN has not scored the case")
    positive_label = serializers.CharField(help_text="What the probability is of")
    probability = serializers.FloatField(allow_null=True)
    top_classes = AiClassSerializer(
        many=True, help_text="Diagnosis questions: the CNN's three most likely classes"
    )
    saliency_url = serializers.CharField(
        allow_null=True,
        help_text="The CNN's Grad-CAM map for the task's positive side, where the study shows "
        "it (ai_show_saliency): 202 while a worker draws it, then the PNG",
    )


class ServedCaseSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The case's opaque id")
    token = serializers.CharField(help_text="One-time token: send it back with the answer")
    number = serializers.IntegerField(
        help_text="Place of the case in this reader's order (AI-assisted studies: in the "
        "session, out of case_total)"
    )
    served_at = serializers.DateTimeField()
    image_url = serializers.CharField()
    full_image_url = serializers.CharField()
    clinical = ClinicalInfoSerializer(allow_null=True, help_text="Only when the study shows it")
    current_answer = AnswerSerializer(
        allow_null=True, help_text="The answer being changed, when going back"
    )
    phase = serializers.ChoiceField(
        choices=Phase.choices, help_text="aided: answer again, now with the CNN's output"
    )
    session = serializers.IntegerField(
        allow_null=True, help_text="Crossover studies: the reader's session, 1 or 2"
    )
    phase_note = serializers.CharField(
        allow_blank=True, help_text="AI-assisted studies: what this step is, in words"
    )
    unaided_answer = serializers.CharField(
        allow_null=True,
        help_text="Sequential studies, aided phase: the reader's locked unaided answer, in words",
    )
    ai = AiOutputSerializer(
        allow_null=True, help_text="The CNN's output, only in the aided phase of a case"
    )


class CaseServingSerializer(serializers.Serializer):
    finished = serializers.BooleanField()
    case_total = serializers.IntegerField(
        help_text="Cases in the reader's order (AI-assisted studies: in one session; progress "
        "counts answers, two per case)"
    )
    waiting_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Crossover studies: the second session opens then (no case until then)",
    )
    progress = ProgressSerializer()
    case = ServedCaseSerializer(allow_null=True)
    can_go_back = serializers.BooleanField()
    upcoming_image_url = serializers.CharField(
        allow_null=True, help_text="The next case's image, to fetch ahead"
    )
    finish_url = serializers.CharField()


class DecisionSubmitSerializer(serializers.Serializer):
    """The answer to each question of the study's design (``questions`` in the reader's
    study list): the fields of a question the study does not ask must be left out."""

    token = serializers.CharField(max_length=64)
    decision = serializers.ChoiceField(
        choices=Decision.Choice.choices,
        required=False,
        allow_null=True,
        help_text="The management decision, in studies that ask it",
    )
    confidence = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Confidence of malignancy on the study's scale (0-100 or 1-5), with decision",
    )
    diagnosis_class = serializers.CharField(
        max_length=32, required=False, allow_null=True, help_text=_CLASS_HELP
    )
    diagnosis_confidence = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Confidence in the diagnosis on the study's scale, where the study asks it",
    )
    active_ms = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Milliseconds the case was visible on screen",
    )


_SUBMIT_INTEGERS = ("confidence", "diagnosis_confidence", "active_ms")


def _plain_text(value: object, max_length: int) -> bool:
    """A string that a CharField would take as it is: printable ASCII (no NUL, no surrogate),
    not blank, no surrounding whitespace, not too long."""
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


def _submit_fields_plain(data: object) -> dict[str, object] | None:
    """The fields of a submit that DecisionSubmitSerializer would validate to the same values,
    when the body is plainly well formed (a JSON object of the exact types); None otherwise,
    and the serializer then validates it (with its messages). Building a serializer's fields
    cost more CPU than the rest of the request's Python; the design (in the service) checks
    the answer in both cases."""
    if type(data) is not dict:
        return None
    token = data.get("token")
    if not _plain_text(token, 64):
        return None
    fields: dict[str, object] = {"token": token}
    if "decision" in data:
        decision = data["decision"]
        if decision is not None and (
            type(decision) is not str or decision not in Decision.Choice.values
        ):
            return None
        fields["decision"] = decision
    if "diagnosis_class" in data:
        code = data["diagnosis_class"]
        if code is not None and not _plain_text(code, 32):
            return None
        fields["diagnosis_class"] = code
    for name in _SUBMIT_INTEGERS:
        if name in data:
            value = data[name]
            if value is not None and type(value) is not int:
                return None
            fields[name] = value
    active_ms = fields.get("active_ms")
    if isinstance(active_ms, int) and active_ms < 0:
        return None
    return fields


class DecisionSerializer(serializers.Serializer):
    """A stored decision: its case and DECISION_ANSWER_COLUMNS (reading.columns)."""

    case = serializers.UUIDField()
    decision = serializers.ChoiceField(choices=Decision.Choice.choices, allow_null=True)
    confidence = serializers.IntegerField(allow_null=True)
    revision = serializers.IntegerField()
    served_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField()
    active_ms = serializers.IntegerField(allow_null=True)
    diagnosis_class = serializers.CharField(allow_null=True, help_text=_CLASS_HELP)
    diagnosis_confidence = serializers.IntegerField(allow_null=True)
    phase = serializers.ChoiceField(
        choices=Phase.choices, help_text="aided when the CNN's output was shown"
    )


class SubmitResultSerializer(serializers.Serializer):
    replayed = serializers.BooleanField(
        help_text="True when this token had been used already: nothing new was stored"
    )
    decision = DecisionSerializer()
    next = CaseServingSerializer()


class StudyClosed(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "This study has been closed by its coordinator: this answer was not stored. "
        "Your earlier answers are kept."
    )
    default_code = "study_closed"


class ReaderProfileRequired(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "reader_profile_required"

    def __init__(self, study_id: int) -> None:
        super().__init__(
            "This study asks for your reader profile (position and dermoscopy experience) "
            f"before your first case: PUT it to /api/v1/reading/studies/{study_id}/profile/ "
            f"or fill in /reading/studies/{study_id}/profile/."
        )


class ReaderConsentRequired(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "reader_consent_required"

    def __init__(self, study_id: int) -> None:
        super().__init__(
            "This study asks you to agree to its consent text before your first case: read it "
            f"at /api/v1/reading/studies/{study_id}/consent/ and POST there to agree, or open "
            f"/reading/studies/{study_id}/consent/."
        )


def _enrolment(request: Request, study_id: int) -> Enrolment:
    enrolment = selectors.grading_enrolment_get(user=request.user, study_id=study_id)
    if enrolment is None:
        if selectors.finished_enrolment_get(user=request.user, study_id=study_id) is not None:
            # Enrolled in a study that is no longer open: closed while the page was open.
            raise StudyClosed()
        raise NotFound("No such study to grade.")
    return enrolment


class ReaderStudyListAPI(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_studies_list",
        responses=ReaderStudySerializer(many=True),
        summary="The reader's studies (open and closed) with progress",
    )
    def get(self, request: Request) -> Response:
        rows = [
            {
                **study_settings(row.study),
                "status": row.study.status,
                "progress": {"done": row.done, "total": row.total, "finished": row.finished},
            }
            for row in selectors.reader_study_list(user=request.user)
        ]
        return Response(ReaderStudySerializer(rows, many=True).data)


class NextCaseAPI(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_next_case",
        responses=CaseServingSerializer,
        summary="The next unanswered case, with its one-time token",
        description="409 (code reader_consent_required) until the reader agrees to the study's "
        "consent text (see reading_consent_give); then 409 (code reader_profile_required) while "
        "the study asks for the reader's profile and it has not been given (see "
        "reading_profile_save).",
    )
    def get(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        if reader_consent_missing(enrolment):
            raise ReaderConsentRequired(study_id)
        if reader_profile_missing(enrolment):
            raise ReaderProfileRequired(study_id)
        serving = services.next_case_serve(enrolment=enrolment)
        return Response(serving_payload(serving, enrolment.study))


class PreviousCaseAPI(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_previous_case",
        parameters=[
            OpenApiParameter(
                "before",
                OpenApiTypes.UUID,
                required=False,
                description="Go back from this case (default: from the current case)",
            )
        ],
        responses=CaseServingSerializer,
        summary="The answered case before another, served again to change the answer",
        description="Only in studies that allow answer changes; 404 when there is none.",
    )
    def get(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        if not enrolment.study.allow_answer_changes:
            raise NotFound("This study keeps first answers final.")
        try:
            raw = request.query_params.get("before")
            before = uuid.UUID(raw) if raw else None
        except ValueError:
            raise NotFound("No such case.") from None
        serving = services.previous_case_serve(enrolment=enrolment, before=before)
        if serving is None:
            raise NotFound("No earlier answered case.")
        return Response(serving_payload(serving, enrolment.study))


class DecisionSubmitAPI(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_decision_submit",
        request=DecisionSubmitSerializer,
        responses={
            201: SubmitResultSerializer,
            200: SubmitResultSerializer,
            409: OpenApiResponse(description="The study was closed: the answer was not stored"),
        },
        summary="Answer the case served with a token; the response carries the next case",
        description=(
            "201 when the decision was stored; 200 with replayed=true when the token had been "
            "used already (a double click or a retry): the stored decision is returned."
        ),
    )
    def post(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        fields = _submit_fields_plain(request.data)
        if fields is None:
            body = DecisionSubmitSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            fields = body.validated_data
        try:
            outcome, serving = services.decision_submit_and_serve_next(
                enrolment=enrolment, **fields
            )
        except services.ServedCaseNotFound:
            raise NotFound("No such case was served to you.") from None
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        decision = outcome.decision
        result = {
            "replayed": not outcome.created,
            "decision": {
                "case": outcome.case_public_id,
                **{column: getattr(decision, column) for column in DECISION_ANSWER_COLUMNS},
            },
            "next": serving_payload(serving, enrolment.study),
        }
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        # The dict already has the documented shape; skipping the serializer keeps the hot path
        # of grading short.
        return Response(result, status=code)


class ReadingProgressAPI(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_progress", responses=ProgressSerializer, summary="Cases answered"
    )
    def get(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        done, total = selectors.reader_progress_get(enrolment)
        return Response({"done": done, "total": total, "finished": total > 0 and done >= total})


class ReaderConsentSerializer(serializers.Serializer):
    required = serializers.BooleanField(
        help_text="The study shows a consent text to agree to before the first case"
    )
    text = serializers.CharField(allow_blank=True, help_text="The consent text, as shown")
    consented_at = serializers.DateTimeField(
        allow_null=True, help_text="When the reader agreed; null while they have not"
    )


def _consent_state(enrolment: Enrolment) -> dict[str, object]:
    return {
        "required": bool(enrolment.study.consent_text.strip()),
        "text": enrolment.study.consent_text,
        "consented_at": enrolment.consented_at,
    }


class ReaderConsentAPI(APIView):
    """The study's consent text and whether the reader has agreed to it (once, recorded with
    its time; the text cannot change once the study is open)."""

    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_consent_get",
        responses=ReaderConsentSerializer,
        summary="The study's consent text and when the reader agreed to it",
    )
    def get(self, request: Request, study_id: int) -> Response:
        return Response(_consent_state(_enrolment(request, study_id)))

    @extend_schema(
        operation_id="reading_consent_give",
        request=None,
        responses={
            200: ReaderConsentSerializer,
            400: OpenApiResponse(description="The study shows no consent text"),
        },
        summary="Agree to the study's consent text (a repeat keeps the first time)",
    )
    def post(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        try:
            enrolment = enrolment_consent_give(enrolment=enrolment)
        except DjangoValidationError as error:
            raise ValidationError({"detail": error.messages}) from None
        return Response(_consent_state(enrolment))


class ReaderProfileStateSerializer(serializers.Serializer):
    saved = serializers.BooleanField(help_text="False: not given yet for this study")
    required = serializers.BooleanField(help_text="The study asks for it before the first case")
    profile = ReaderProfileSerializer(
        allow_null=True,
        help_text="The saved profile, or (not saved) the reader's latest from another study "
        "to confirm, or null",
    )


class ReaderProfileAPI(APIView):
    """The reader's profile in one study: given once, then edited by the coordinator."""

    permission_classes = [IsReader]

    @extend_schema(
        operation_id="reading_profile_get",
        responses=ReaderProfileStateSerializer,
        summary="The reader's profile in this study, or what to prefill it with",
    )
    def get(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        saved = reader_profile_get(enrolment) is not None
        initial = reader_profile_initial(enrolment)
        return Response(
            {
                "saved": saved,
                "required": enrolment.study.require_reader_profile,
                "profile": ReaderProfileSerializer(initial).data if initial else None,
            }
        )

    @extend_schema(
        operation_id="reading_profile_save",
        request=ReaderProfileSerializer,
        responses={
            201: ReaderProfileStateSerializer,
            409: OpenApiResponse(
                description="Given already (the coordinator edits it), or the study's consent "
                "text is not agreed to yet"
            ),
        },
        summary="Give the reader's profile (once) before the first case",
    )
    def put(self, request: Request, study_id: int) -> Response:
        enrolment = _enrolment(request, study_id)
        if reader_consent_missing(enrolment):
            raise ReaderConsentRequired(study_id)
        if reader_profile_get(enrolment) is not None:
            raise ProfileGiven()
        body = ReaderProfileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            reader_profile_save(enrolment=enrolment, saved_by=request.user, **body.validated_data)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(
            {
                "saved": True,
                "required": enrolment.study.require_reader_profile,
                "profile": ReaderProfileSerializer(reader_profile_initial(enrolment)).data,
            },
            status=status.HTTP_201_CREATED,
        )


class ProfileGiven(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Your profile for this study is given already; its coordinator can edit it."
    default_code = "reader_profile_given"
