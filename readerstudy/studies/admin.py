"""Superusers' view of studies, cases, enrolments, reader profiles and imports. Truth and
image fields are read-only: cases change only through imports, so every reader and the CNN
see the same."""

from django.contrib import admin

from readerstudy.studies.models import Case, Enrolment, ImportJob, ReaderProfile, Study


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "task", "modality", "status", "created_by", "created_at"]
    list_filter = ["status", "modality", "task"]
    search_fields = ["name"]
    readonly_fields = ["task", "task_definition", "taxonomy_version", "created_at", "updated_at"]
    filter_horizontal = ["coordinators"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["public_id", "study", "position", "source_id", "diagnosis", "truth"]
    list_filter = ["study", "diagnosis", "truth", "biopsy_proven"]
    search_fields = ["source_id", "public_id", "lesion_id"]
    list_select_related = ["study"]
    readonly_fields = [
        "study",
        "public_id",
        "position",
        "image",
        "display_image",
        "thumbnail",
        "width",
        "height",
        "pixel_sha256",
        "diagnosis",
        "diagnosis_label",
        "truth",
        "biopsy_proven",
        "confirmation",
        "source_id",
        "source_filename",
        "lesion_id",
        "import_job",
        "created_at",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["pseudonym", "study", "reader", "simulated", "enrolled_at"]
    list_filter = ["study", "simulated"]
    search_fields = ["reader__username", "pseudonym"]
    readonly_fields = ["order_seed", "enrolled_at"]


@admin.register(ReaderProfile)
class ReaderProfileAdmin(admin.ModelAdmin):
    """View only: a profile changes through ``reader_profile_save`` (the coordinator's page),
    which refuses once the study is closed and the record of who read it is final. Readers
    appear by pseudonym; the enrolments' admin is where accounts are."""

    list_display = ["study", "pseudonym", "position", "experience", "board_certified"]
    list_filter = ["enrolment__study", "position", "experience"]
    list_select_related = ["enrolment__study"]
    search_fields = ["enrolment__pseudonym"]
    fields = [
        "study",
        "pseudonym",
        "position",
        "board_certified",
        "experience",
        "notes",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(ordering="enrolment__study__name")
    def study(self, profile: ReaderProfile) -> str:
        return str(profile.enrolment.study)

    @admin.display(ordering="enrolment__pseudonym")
    def pseudonym(self, profile: ReaderProfile) -> str:
        return profile.enrolment.pseudonym

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "study", "source", "status", "cases_created", "created_at"]
    list_filter = ["status", "source"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
