"""API representations of studies, imports, cases and enrolments, for coordinators only.

Truth fields (diagnosis, truth, source id, file name) appear only in the case serializer,
which only the coordinator routes use; nothing here is ever served to readers.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from classifier.taxonomy import load_taxonomy
from readerstudy.studies.design import BUILT_IN_SCHEMES, DESIGNS, MANAGEMENT
from readerstudy.studies.ingest.importer import ImportOptions
from readerstudy.studies.ingest.manifests import FORMATS
from readerstudy.studies.ingest.selection import sample_parse
from readerstudy.studies.models import Case, Enrolment, ImportJob, ReaderProfile, Study
from readerstudy.studies.services import (
    require_biopsy_proven_default,
    scheme_resolve,
    task_resolve,
)


class StudySerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    case_count = serializers.SerializerMethodField()
    reader_count = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "id",
            "name",
            "task",
            "task_definition",
            "taxonomy_version",
            "modality",
            "status",
            "question",
            "design",
            "diagnosis_scheme",
            "diagnosis_question",
            "ask_diagnosis_confidence",
            "ai_assistance",
            "washout_days",
            "ai_show_saliency",
            "faulty_ai_percent",
            "consent_text",
            "confidence_scale",
            "allow_answer_changes",
            "show_clinical_info",
            "show_feedback",
            "require_biopsy_proven",
            "require_reader_profile",
            "created_by",
            "created_at",
            "case_count",
            "reader_count",
        ]
        read_only_fields = fields

    def get_case_count(self, study: Study) -> int:
        return getattr(study, "case_count", None) or study.cases.count()

    def get_reader_count(self, study: Study) -> int:
        return getattr(study, "reader_count", None) or study.enrolments.count()


class StudyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    task = serializers.CharField(
        required=False, help_text="A built-in task: " + ", ".join(load_taxonomy().tasks)
    )
    task_mapping = serializers.JSONField(
        required=False,
        help_text='A custom task: {"name", "label", "positive": [...], "negative": [...]}',
    )
    modality = serializers.ChoiceField(choices=Study.Modality.choices)
    question = serializers.CharField(required=False, allow_blank=True, default="")
    design = serializers.ChoiceField(
        choices=list(DESIGNS.items()),
        default=MANAGEMENT,
        help_text="What readers answer about each case",
    )
    classes = serializers.ChoiceField(
        choices=list(BUILT_IN_SCHEMES.items()),
        required=False,
        help_text="Built-in diagnosis classes, for a design that asks a diagnosis",
    )
    class_grouping = serializers.JSONField(
        required=False,
        help_text='Custom diagnosis classes: {"name", "label"?, "classes": [{"code", '
        '"label"?, "key"?, "diagnoses": [...]}]}',
    )
    diagnosis_question = serializers.CharField(required=False, allow_blank=True, default="")
    ask_diagnosis_confidence = serializers.BooleanField(default=False)
    ai_assistance = serializers.ChoiceField(
        choices=Study.AiAssistance.choices,
        default=Study.AiAssistance.NONE,
        help_text="sequential: each case unaided, then with the CNN; crossover: an aided and "
        "an unaided session after a washout",
    )
    washout_days = serializers.IntegerField(min_value=1, max_value=365, default=28)
    ai_show_saliency = serializers.BooleanField(
        default=False,
        help_text="the aided phase also shows the CNN's Grad-CAM map for the task (its own "
        "networks only)",
    )
    faulty_ai_percent = serializers.IntegerField(min_value=0, max_value=50, default=0)
    consent_text = serializers.CharField(required=False, allow_blank=True, default="")
    confidence_scale = serializers.ChoiceField(
        choices=Study.ConfidenceScale.choices, default=Study.ConfidenceScale.PERCENT
    )
    allow_answer_changes = serializers.BooleanField(default=False)
    show_clinical_info = serializers.BooleanField(default=False)
    show_feedback = serializers.BooleanField(default=False)
    require_biopsy_proven = serializers.BooleanField(default=require_biopsy_proven_default)
    require_reader_profile = serializers.BooleanField(
        default=True,
        help_text="Readers give their position and experience before their first case",
    )

    def validate(self, data: dict) -> dict:
        if bool(data.get("task")) == ("task_mapping" in data):
            raise serializers.ValidationError("give either task or task_mapping")
        try:
            if data.get("task"):
                data["task"] = task_resolve(name=data["task"])
            else:
                mapping = data.pop("task_mapping")
                if not isinstance(mapping, dict):
                    raise serializers.ValidationError({"task_mapping": "must be an object"})
                data["task"] = task_resolve(mapping=mapping)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"task": error.messages}) from None
        classes, grouping = data.pop("classes", None), data.pop("class_grouping", None)
        if classes and grouping is not None:
            raise serializers.ValidationError("give either classes or class_grouping")
        if data["design"] != MANAGEMENT:
            try:
                if grouping is not None:
                    if not isinstance(grouping, dict):
                        raise serializers.ValidationError({"class_grouping": "must be an object"})
                    data["scheme"] = scheme_resolve(mapping=grouping)
                else:
                    data["scheme"] = scheme_resolve(name=classes or "ham7")
            except DjangoValidationError as error:
                field = "class_grouping" if grouping is not None else "classes"
                raise serializers.ValidationError({field: error.messages}) from None
        elif classes or grouping is not None:
            raise serializers.ValidationError(
                {"design": "a management study asks no diagnosis: leave out the classes"}
            )
        return data


class StudyUpdateSerializer(serializers.Serializer):
    """Settings while the study is a draft; later only name and feedback. ``status`` moves
    the study on: draft -> open -> closed."""

    name = serializers.CharField(max_length=200, required=False)
    modality = serializers.ChoiceField(choices=Study.Modality.choices, required=False)
    question = serializers.CharField(required=False)
    diagnosis_question = serializers.CharField(required=False)
    ask_diagnosis_confidence = serializers.BooleanField(required=False)
    ai_assistance = serializers.ChoiceField(choices=Study.AiAssistance.choices, required=False)
    washout_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    ai_show_saliency = serializers.BooleanField(required=False)
    faulty_ai_percent = serializers.IntegerField(min_value=0, max_value=50, required=False)
    consent_text = serializers.CharField(required=False, allow_blank=True)
    confidence_scale = serializers.ChoiceField(
        choices=Study.ConfidenceScale.choices, required=False
    )
    allow_answer_changes = serializers.BooleanField(required=False)
    show_clinical_info = serializers.BooleanField(required=False)
    show_feedback = serializers.BooleanField(required=False)
    require_biopsy_proven = serializers.BooleanField(required=False)
    require_reader_profile = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(choices=Study.Status.choices, required=False)
    acknowledge_confounds = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With status=open: I have read the confound audit's warnings (GET "
        "confound-audit/) and open the study all the same; recorded with my name and the time",
    )


class ConfoundPropertySerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    auc = serializers.FloatField(allow_null=True, help_text="Oriented: 0.5 chance, 1 perfect")
    ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    n_cases = serializers.IntegerField()
    n_missing = serializers.IntegerField(help_text="Cases without the property recorded")
    higher_in = serializers.CharField(
        help_text="Where the property runs higher: 'positives' or 'negatives' for a measured "
        "one; for a categorical one, the category with the largest share of positives (an "
        "import batch, a file format, 'missing' or 'recorded'); empty where every case has "
        "the same value"
    )
    p_value = serializers.FloatField(
        allow_null=True, help_text="Two-sided Mann-Whitney test against 'says nothing'"
    )
    warning = serializers.BooleanField()


class ConfoundSourceSerializer(serializers.Serializer):
    source = serializers.CharField()
    auc = serializers.FloatField(allow_null=True)
    ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    n_positive = serializers.IntegerField()
    n_negative = serializers.IntegerField()


class ConfoundWarningSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    auc = serializers.FloatField(allow_null=True)
    ci = serializers.ListField(child=serializers.FloatField())


class ConfoundAcknowledgementSerializer(serializers.Serializer):
    acknowledged_by = serializers.CharField(source="acknowledged_by.username")
    acknowledged_at = serializers.DateTimeField()
    warnings = ConfoundWarningSerializer(many=True)


class ConfoundAuditSerializer(serializers.Serializer):
    threshold = serializers.FloatField(help_text="An AUC at or above this (with p < 0.05) warns")
    level = serializers.FloatField(help_text="Confidence level of the intervals")
    properties = ConfoundPropertySerializer(many=True)
    cnn_by_source = ConfoundSourceSerializer(many=True)
    cnn_by_source_warning = serializers.BooleanField()
    warnings = ConfoundWarningSerializer(many=True)
    unacknowledged = serializers.ListField(
        child=serializers.CharField(), help_text="Warnings that opening still needs acknowledged"
    )
    acknowledgement = ConfoundAcknowledgementSerializer(allow_null=True)


class ImportUploadSerializer(serializers.Serializer):
    # Empty files are let through to the import, whose error names the file and its row.
    archive = serializers.FileField(
        required=False, allow_empty_file=True, help_text="A zip of images and manifest"
    )
    manifest = serializers.FileField(
        required=False, allow_empty_file=True, help_text="The manifest (CSV)"
    )
    images = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        help_text="Image files (with manifest)",
    )
    manifest_format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")
    biopsy_proven_only = serializers.BooleanField(default=False)
    sample = serializers.CharField(
        required=False, allow_blank=True, help_text="e.g. mel=30,nv=70 (after the filters)"
    )
    seed = serializers.IntegerField(required=False, min_value=0)
    limit = serializers.IntegerField(required=False, min_value=1)
    allow_same_lesion = serializers.BooleanField(default=False)

    def validate_sample(self, text: str) -> dict[str, int] | None:
        if not text.strip():
            return None
        try:
            return sample_parse(text, taxonomy=load_taxonomy())
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, data: dict) -> dict:
        if data.get("archive") and data.get("images"):
            raise serializers.ValidationError("upload either a zip or image files, not both")
        if not data.get("archive") and not (data.get("manifest") and data.get("images")):
            raise serializers.ValidationError("upload a zip, or a manifest with its image files")
        return data

    def import_options(self) -> ImportOptions:
        data = self.validated_data
        return ImportOptions(
            manifest_format=data["manifest_format"],
            biopsy_proven_only=data["biopsy_proven_only"],
            sample=data.get("sample"),
            seed=data.get("seed"),
            limit=data.get("limit"),
            allow_same_lesion=data["allow_same_lesion"],
        )


class ImportIssueSerializer(serializers.Serializer):
    message = serializers.CharField()
    file = serializers.CharField()
    row = serializers.IntegerField(help_text="As in a spreadsheet: the header is row 1")
    field = serializers.CharField()
    value = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    study = serializers.IntegerField(source="study_id", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    finished = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default="")
    errors = ImportIssueSerializer(many=True, read_only=True)
    report_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "study",
            "source",
            "status",
            "phase",
            "progress_done",
            "progress_total",
            "percent",
            "finished",
            "cases_created",
            "options",
            "upload",
            "errors",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "report_url",
        ]
        read_only_fields = fields

    def get_report_url(self, job: ImportJob) -> str:
        return reverse(
            "api:study-import-report", kwargs={"study_id": job.study_id, "job_id": job.pk}
        )


class ImportReportSerializer(serializers.ModelSerializer):
    errors = ImportIssueSerializer(many=True, read_only=True)
    report = serializers.JSONField(
        read_only=True,
        help_text="manifest, format, rows_read, seed, available/drawn/imported per diagnosis, "
        "imported_truth, study_truth (the study's cases after the import), warnings (e.g. no "
        "negative case yet), excluded_counts, excluded (every row left out, with its reason); "
        "undone (cases, at) once the import was undone",
    )

    class Meta:
        model = ImportJob
        fields = ["id", "status", "cases_created", "report", "errors"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    import_job = serializers.IntegerField(source="import_job_id", read_only=True, allow_null=True)

    class Meta:
        model = Case
        fields = [
            "public_id",
            "position",
            "source_id",
            "source_filename",
            "diagnosis",
            "diagnosis_label",
            "truth",
            "biopsy_proven",
            "confirmation",
            "lesion_id",
            "age",
            "sex",
            "site",
            "width",
            "height",
            "pixel_sha256",
            "import_job",
        ]
        read_only_fields = fields


class ReaderProfileSerializer(serializers.Serializer):
    """Who the reader was when they read the study (readerstudy.studies.models.ReaderProfile)."""

    position = serializers.ChoiceField(choices=ReaderProfile.Position.choices)
    board_certified = serializers.BooleanField(
        allow_null=True, default=None, help_text="null: not asked"
    )
    experience = serializers.ChoiceField(
        choices=ReaderProfile.Experience.choices, help_text="Years of dermoscopy experience"
    )
    notes = serializers.CharField(max_length=1000, allow_blank=True, default="")


class EnrolmentSerializer(serializers.ModelSerializer):
    reader = serializers.CharField(source="reader.username", read_only=True)
    profile = ReaderProfileSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Enrolment
        fields = ["id", "pseudonym", "reader", "simulated", "enrolled_at", "profile"]
        read_only_fields = fields


class EnrolmentProfileSerializer(serializers.Serializer):
    pseudonym = serializers.CharField()
    profile = ReaderProfileSerializer(allow_null=True, help_text="null: not given yet")


class ReaderProgressSerializer(serializers.Serializer):
    """One enrolled reader's progress (readerstudy.studies.selectors.ReaderProgress)."""

    pseudonym = serializers.CharField(source="enrolment.pseudonym")
    reader = serializers.CharField(source="enrolment.reader.username")
    email = serializers.CharField(source="enrolment.reader.email")
    simulated = serializers.BooleanField(source="enrolment.simulated")
    answered = serializers.IntegerField(help_text="Cases answered (a changed answer counts once)")
    total = serializers.IntegerField(help_text="Cases in the study")
    finished = serializers.BooleanField()
    last_activity = serializers.DateTimeField(
        allow_null=True, help_text="When the reader's last answer arrived"
    )


class EnrolRequestSerializer(serializers.Serializer):
    readers = serializers.ListField(child=serializers.CharField(max_length=150), min_length=1)
    create = serializers.BooleanField(
        default=False, help_text="Create accounts for usernames that do not exist"
    )
    credentials = serializers.ChoiceField(
        choices=["password", "link"],
        default="password",
        help_text="New accounts get an initial password or a one-time set-password link",
    )


class EnrolResultSerializer(serializers.Serializer):
    enrolment = EnrolmentSerializer()
    created_account = serializers.BooleanField()
    already_enrolled = serializers.BooleanField()
    initial_password = serializers.CharField(allow_null=True, help_text="Shown only now")
    set_password_url = serializers.CharField(allow_null=True, help_text="One-time link")
