"""The planning page's form: a pilot (a study or a ratings file) and what to plan for."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from readerstudy.core.forms import NoColon
from readerstudy.stats.planning import DEFAULT_CASES, MAX_READERS, parse_cases
from readerstudy.stats.power import PlanningError

ANALYSIS_CHOICES = [
    ("rrrc", "Random readers and cases (RRRC): results generalise to both"),
    ("frrc", "Fixed readers, random cases (FRRC): to these readers only"),
    ("rrfc", "Random readers, fixed cases (RRFC): to these cases only"),
]
MAX_RATINGS_BYTES = 20 * 1024 * 1024


class PlanningForm(NoColon, forms.Form):
    study = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Pilot: a study of this platform",
        empty_label="(none: use a ratings file)",
        help_text="The CNN against the study's readers who graded every scored case.",
    )
    ratings = forms.FileField(
        required=False,
        label="or a pilot ratings file",
        help_text="Long CSV (reader,modality,case,truth,rating) with two modalities, or an "
        "iMRMC file; with an algorithm, one modality.",
    )
    algorithm = forms.CharField(
        required=False,
        max_length=200,
        label="Algorithm's reader id in the file",
        help_text="Leave empty to compare two modalities.",
    )
    effect = forms.FloatField(
        required=False,
        min_value=-1,
        max_value=1,
        label="Effect size (AUC difference)",
        help_text="Leave empty to plan for the pilot's observed difference.",
    )
    alpha = forms.FloatField(initial=0.05, min_value=0.0001, max_value=0.5, label="Alpha")
    power = forms.FloatField(initial=0.8, min_value=0.05, max_value=0.999, label="Target power")
    analysis = forms.ChoiceField(choices=ANALYSIS_CHOICES, initial="rrrc", label="Analysis")
    readers_min = forms.IntegerField(
        initial=3, min_value=2, max_value=MAX_READERS, label="Readers from"
    )
    readers_max = forms.IntegerField(
        initial=30, min_value=2, max_value=MAX_READERS, label="Readers to"
    )
    cases = forms.CharField(
        initial=",".join(str(k) for k in DEFAULT_CASES),
        max_length=200,
        label="Case counts for the curves",
        help_text="Comma-separated, e.g. 100,200,400.",
    )

    def __init__(self, *args: Any, studies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies  # type: ignore[attr-defined]

    def clean_cases(self) -> tuple[int, ...]:
        try:
            return parse_cases(self.cleaned_data["cases"])
        except PlanningError as error:
            raise ValidationError(str(error).replace("--cases", "Case counts")) from None

    def clean_ratings(self) -> Any:
        upload = self.cleaned_data.get("ratings")
        if upload is not None and upload.size > MAX_RATINGS_BYTES:
            raise ValidationError(f"{upload.name}: larger than {MAX_RATINGS_BYTES // 2**20} MiB")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("study")) == bool(data.get("ratings")):
            raise ValidationError("Choose a study or upload a ratings file (one of the two).")
        low, high = data.get("readers_min"), data.get("readers_max")
        if low is not None and high is not None and high < low:
            self.add_error("readers_max", "Must not be below “Readers from”.")
        return data
