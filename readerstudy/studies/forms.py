"""Forms of the coordinator pages; the services validate again, the forms give field errors."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from classifier.taxonomy import load_taxonomy
from readerstudy.core.forms import NoColon
from readerstudy.studies.design import (
    BUILT_IN_SCHEMES,
    DESIGNS,
    DIAGNOSIS,
    DIAGNOSIS_MANAGEMENT,
    MANAGEMENT,
)
from readerstudy.studies.ingest.importer import ImportOptions
from readerstudy.studies.ingest.manifests import FORMATS
from readerstudy.studies.ingest.selection import sample_parse
from readerstudy.studies.models import ReaderProfile, Study
from readerstudy.studies.services import (
    require_biopsy_proven_default,
    scheme_resolve,
    task_resolve,
)
from readerstudy.studies.services.lifecycle import EDITABLE_WHILE_DRAFT

CUSTOM_TASK = "custom"
CUSTOM_CLASSES = "custom"
MAX_TASK_FILE_BYTES = 64 * 1024


def task_choices() -> list[tuple[str, str]]:
    tasks = load_taxonomy().tasks
    return [(name, f"{task.label} ({name})") for name, task in tasks.items()] + [
        (CUSTOM_TASK, "Custom task from a mapping file")
    ]


def _shown_when(form: forms.BaseForm, rules: dict[str, dict[str, tuple[str, ...]]]) -> None:
    """Marks each field that means something only for some values of other fields
    (``{field: {control: values}}``, all controls must match): static/js/studies/form.js
    hides it otherwise. The server ignores such a field where it does not apply, so the page
    works the same without the script, with every field shown."""
    for name, rule in rules.items():
        if name in form.fields:
            form.fields[name].widget.attrs["data-shown-when"] = json.dumps(
                {control: list(values) for control, values in rule.items()}
            )


ASKING_DIAGNOSIS = (DIAGNOSIS, DIAGNOSIS_MANAGEMENT)
AIDED = tuple(str(value) for value in Study.AiAssistance.values if value != Study.AiAssistance.NONE)


class StudySettingsForm(NoColon, forms.ModelForm):
    class Meta:
        model = Study
        fields = list(EDITABLE_WHILE_DRAFT)
        labels = {
            "question": "Management question shown to readers",
            "diagnosis_question": "Diagnosis question shown to readers",
            "ask_diagnosis_confidence": "Readers give a confidence with their diagnosis",
            "ai_assistance": "AI-assisted reading",
            "washout_days": "Washout between crossover sessions (days)",
            "ai_show_saliency": "The aided phase also shows the CNN's Grad-CAM map",
            "faulty_ai_percent": "Faulty-AI check: cases with inverted AI output (%)",
            "consent_text": "Consent text shown before the first case",
            "confidence_scale": "Confidence scale",
            "allow_answer_changes": "Readers may change their answers",
            "show_clinical_info": "Show age, sex and body site to readers",
            "show_feedback": "Show readers the truth and the CNN's score after they finish",
            "require_biopsy_proven": "Every case must be biopsy-proven",
            "require_reader_profile": "Readers fill in their profile before their first case",
        }
        help_texts = {
            "ask_diagnosis_confidence": (
                "How sure they are of the class, on the confidence scale below; stored with each "
                "answer and in the decisions export"
            ),
        }
        widgets = {
            "question": forms.Textarea(attrs={"rows": 2}),
            "diagnosis_question": forms.Textarea(attrs={"rows": 2}),
            "consent_text": forms.Textarea(attrs={"rows": 4}),
        }

    # Settings a form may leave out (an older client, a script): they keep the study's value,
    # or for a new study the model's default.
    OPTIONAL = ("ai_assistance", "washout_days", "faulty_ai_percent")

    # Settings that apply only to one kind of AI assistance.
    SHOWN_WHEN: dict[str, dict[str, tuple[str, ...]]] = {
        "washout_days": {"ai_assistance": (str(Study.AiAssistance.CROSSOVER),)},
        "ai_show_saliency": {"ai_assistance": AIDED},
        "faulty_ai_percent": {"ai_assistance": AIDED},
    }

    def __init__(self, *args: object, locked: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in self.OPTIONAL:
            self.fields[name].required = False
        if self.instance.pk:
            # A study's design is fixed once created: the questions it never asks are left
            # out (they keep their values).
            if not self.instance.asks_management:
                del self.fields["question"]
            if not self.instance.asks_diagnosis:
                del self.fields["diagnosis_question"]
                del self.fields["ask_diagnosis_confidence"]
        _shown_when(self, self.SHOWN_WHEN)
        if locked:  # open or closed: only what does not change what readers see
            for name, field in self.fields.items():
                if name not in ("name", "show_feedback"):
                    field.disabled = True

    def _kept(self, name: str) -> object:
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return getattr(self.instance, name)
        return value

    def clean_ai_assistance(self) -> object:
        return self._kept("ai_assistance")

    def clean_washout_days(self) -> object:
        return self._kept("washout_days")

    def clean_faulty_ai_percent(self) -> object:
        return self._kept("faulty_ai_percent")


class StudyCreateForm(StudySettingsForm):
    task = forms.ChoiceField(choices=task_choices, initial="melanoma-vs-nevus")
    task_file = forms.FileField(
        required=False,
        label="Task mapping file (custom task)",
        help_text='JSON: {"name": ..., "label": ..., "positive": ["mel"], "negative": ["nv"]}',
    )

    design = forms.ChoiceField(
        choices=list(DESIGNS.items()),
        initial=MANAGEMENT,
        required=False,
        label="What readers answer",
        help_text="A diagnosis is asked among the classes below; the task still defines the "
        "CNN's ROC curve and which diagnoses the study takes",
    )
    classes = forms.ChoiceField(
        choices=[
            *BUILT_IN_SCHEMES.items(),
            (CUSTOM_CLASSES, "Custom classes from a grouping file"),
        ],
        initial="ham7",
        required=False,
        label="Diagnosis classes",
    )
    grouping_file = forms.FileField(
        required=False,
        label="Grouping file (custom classes)",
        help_text='JSON: {"name": ..., "classes": [{"code": "melanocytic", "label": ..., '
        '"diagnoses": ["mel", "nv"]}, ...]}',
    )

    SHOWN_WHEN = {
        **StudySettingsForm.SHOWN_WHEN,
        "task_file": {"task": (CUSTOM_TASK,)},
        "classes": {"design": ASKING_DIAGNOSIS},
        "grouping_file": {"design": ASKING_DIAGNOSIS, "classes": (CUSTOM_CLASSES,)},
        "question": {"design": (MANAGEMENT, DIAGNOSIS_MANAGEMENT)},
        "diagnosis_question": {"design": ASKING_DIAGNOSIS},
        "ask_diagnosis_confidence": {"design": ASKING_DIAGNOSIS},
    }

    class Meta(StudySettingsForm.Meta):
        fields = [
            "name",
            "task",
            "task_file",
            "design",
            "classes",
            "grouping_file",
            *StudySettingsForm.Meta.fields[1:],
        ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["require_biopsy_proven"].initial = require_biopsy_proven_default()

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("task") == CUSTOM_TASK:
            upload = data.get("task_file")
            if not upload:
                self.add_error("task_file", "a custom task needs its mapping file")
                return data
            if upload.size > MAX_TASK_FILE_BYTES:
                self.add_error("task_file", "the mapping file is too large")
                return data
            try:
                mapping = json.loads(upload.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                self.add_error("task_file", f"not a JSON file: {error}")
                return data
            if not isinstance(mapping, dict):
                self.add_error("task_file", "the mapping must be a JSON object")
                return data
            try:
                data["resolved_task"] = task_resolve(mapping=mapping)
            except ValidationError as error:
                self.add_error("task_file", error)
        elif data.get("task"):
            data["resolved_task"] = task_resolve(name=str(data["task"]))
        data["design"] = data.get("design") or MANAGEMENT
        if data["design"] != MANAGEMENT:
            self._scheme_clean(data)
        return data

    def _scheme_clean(self, data: dict[str, object]) -> None:
        classes = data.get("classes") or "ham7"
        if classes != CUSTOM_CLASSES:
            data["resolved_scheme"] = scheme_resolve(name=str(classes))
            return
        upload = data.get("grouping_file")
        if not upload:
            self.add_error("grouping_file", "custom classes need their grouping file")
            return
        if upload.size > MAX_TASK_FILE_BYTES:  # type: ignore[attr-defined]
            self.add_error("grouping_file", "the grouping file is too large")
            return
        try:
            mapping = json.loads(upload.read().decode("utf-8"))  # type: ignore[attr-defined]
            data["resolved_scheme"] = scheme_resolve(mapping=mapping)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self.add_error("grouping_file", f"not a JSON file: {error}")
        except ValidationError as error:
            self.add_error("grouping_file", error)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self, data: object, initial: object = None) -> list[object]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ImportUploadForm(NoColon, forms.Form):
    # Empty files are let through to the import, whose error names the file and its row
    # (a form error would only say that one of the files is empty).
    archive = forms.FileField(
        required=False,
        allow_empty_file=True,
        label="Zip with images and manifest",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    manifest = forms.FileField(
        required=False,
        allow_empty_file=True,
        label="Manifest (CSV)",
        help_text="Needed with separate image files; optional beside a zip that holds none",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    images = MultipleFileField(
        required=False,
        allow_empty_file=True,
        label="Image files",
        widget=MultipleFileInput(attrs={"accept": ".jpg,.jpeg,.png,.tif,.tiff"}),
    )
    manifest_format = forms.ChoiceField(
        required=False,
        label="Manifest format",
        choices=[("auto", "Detect from the header")]
        + [
            (f, {"ham10000": "HAM10000", "isic": "ISIC Archive", "generic": "Generic"}[f])
            for f in FORMATS
        ],
        initial="auto",
    )
    biopsy_proven_only = forms.BooleanField(
        required=False,
        label="Import only biopsy-proven cases",
        help_text="Other rows are left out and listed in the report",
    )
    sample = forms.CharField(
        required=False,
        label="Sample per diagnosis",
        help_text="e.g. mel=30,nv=70: a seeded random draw after the filters, one image per lesion",
    )
    seed = forms.IntegerField(required=False, min_value=0, label="Seed")
    limit = forms.IntegerField(required=False, min_value=1, label="At most this many cases")
    allow_same_lesion = forms.BooleanField(
        required=False, label="A sample may hold several images of one lesion"
    )

    def clean_sample(self) -> dict[str, int] | None:
        text = (self.cleaned_data.get("sample") or "").strip()
        if not text:
            return None
        try:
            return sample_parse(text, taxonomy=load_taxonomy())
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("archive") and data.get("images"):
            raise ValidationError("Upload either a zip or image files, not both.")
        if not data.get("archive") and not (data.get("manifest") and data.get("images")):
            raise ValidationError("Upload a zip, or a manifest together with its image files.")
        return data

    def import_options(self) -> ImportOptions:
        data = self.cleaned_data
        return ImportOptions(
            manifest_format=data["manifest_format"] or "auto",
            biopsy_proven_only=data["biopsy_proven_only"],
            sample=data["sample"],
            seed=data["seed"],
            limit=data["limit"],
            allow_same_lesion=data["allow_same_lesion"],
        )


class EnrolForm(NoColon, forms.Form):
    usernames = forms.CharField(
        label="Reader usernames",
        help_text="Separated by commas or new lines",
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
    )
    create = forms.BooleanField(
        required=False, label="Create accounts for names that do not exist yet"
    )
    credentials = forms.ChoiceField(
        label="New accounts get",
        choices=[
            ("password", "An initial password, shown once"),
            ("link", "A one-time link to choose a password"),
        ],
        initial="password",
        widget=forms.RadioSelect,
    )

    def clean_usernames(self) -> list[str]:
        raw = self.cleaned_data["usernames"].replace("\n", ",")
        names = [n.strip() for n in raw.split(",") if n.strip()]
        if not names:
            raise ValidationError("Name at least one reader.")
        return names


def _yes_no(value: object) -> bool | None:
    return {"yes": True, "no": False}.get(str(value))


class ReaderProfileForm(NoColon, forms.Form):
    """The reader's short form before their first case; the coordinator edits the same.
    Not bound to the model: ``reader_profile_save`` validates and saves."""

    position = forms.ChoiceField(
        choices=ReaderProfile.Position.choices, widget=forms.RadioSelect, label="Your position"
    )
    board_certified = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=_yes_no,
        widget=forms.RadioSelect,
        label="Board-certified dermatologist",
    )
    experience = forms.ChoiceField(
        choices=ReaderProfile.Experience.choices,
        widget=forms.RadioSelect,
        label="Years of experience with dermoscopy",
    )
    notes = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Anything else about your training (optional)",
    )

    def __init__(self, *args: object, initial: dict[str, object] | None = None, **kwargs: object):
        initial = dict(initial or {})
        if initial.get("board_certified") is not None:
            initial["board_certified"] = "yes" if initial["board_certified"] else "no"
        super().__init__(*args, initial=initial, **kwargs)  # type: ignore[arg-type]
