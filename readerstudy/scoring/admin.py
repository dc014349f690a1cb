from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from readerstudy.scoring.models import ActiveModel, CaseScoring, CnnScore, ModelVersion
from readerstudy.scoring.registration import (
    ModelRegistrationError,
    model_version_register_upload,
)


class CheckpointUploadForm(forms.ModelForm):
    upload = forms.FileField(
        label="Checkpoint", help_text="A .pt file written by python -m classifier.train"
    )

    class Meta:
        model = ModelVersion
        fields = ["name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "arch", "short_sha", "taxonomy_version", "created_at"]
    list_filter = ["kind"]
    readonly_fields = [
        "kind",
        "arch",
        "checkpoint",
        "sha256",
        "file_sha256",
        "description",
        "taxonomy_mapping",
        "taxonomy_version",
        "input_size",
        "class_names",
        "metrics",
        "data_summary",
        "created_by",
        "created_at",
    ]
    search_fields = ["name", "sha256"]

    @admin.display(description="sha256")
    def short_sha(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]

    def get_form(self, request: HttpRequest, obj: ModelVersion | None = None, **kwargs: Any):
        if obj is None:
            kwargs["form"] = CheckpointUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ModelVersion | None = None):
        return self.readonly_fields if obj else []

    def get_fields(self, request: HttpRequest, obj: ModelVersion | None = None):
        return ["name", *self.readonly_fields] if obj else ["name", "upload"]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None):
        if request.method == "POST":
            form = CheckpointUploadForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["upload"]
                try:
                    model_version = model_version_register_upload(
                        upload=upload,
                        filename=upload.name,
                        created_by=request.user,  # type: ignore[arg-type]
                        name=form.cleaned_data.get("name") or None,
                    )
                except ModelRegistrationError as error:
                    messages.error(request, str(error))
                else:
                    messages.success(request, f"Registered {model_version}.")
                    return HttpResponseRedirect(
                        reverse("admin:scoring_modelversion_change", args=[model_version.pk])
                    )
        return super().add_view(request, form_url, extra_context)


@admin.register(ActiveModel)
class ActiveModelAdmin(admin.ModelAdmin):
    list_display = ["task", "model_version", "activated_at"]


@admin.register(CnnScore)
class CnnScoreAdmin(admin.ModelAdmin):
    list_display = [
        "case",
        "model_version",
        "probability",
        "diagnosis_class",
        "device",
        "worker_host",
        "created_at",
    ]
    list_filter = ["model_version", "device"]
    readonly_fields = [f.name for f in CnnScore._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CaseScoring)
class CaseScoringAdmin(admin.ModelAdmin):
    list_display = ["case", "model_version", "status", "attempts", "enqueued_at"]
    list_filter = ["status", "model_version"]
    readonly_fields = [f.name for f in CaseScoring._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Every field is read-only, so "add" could only save an empty row (a 500 on its
        # NOT NULL columns); bookkeeping rows come from the scoring services alone.
        return False
