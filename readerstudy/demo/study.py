"""The demo study: biopsy-proven held-out HAM10000 lesions, scored by the shipped CNN, read by
the demo's readers and a simulated panel calibrated to Brinker et al. 2019.

Everything here is idempotent: a second run finds the study, its enrolments and its panel.
"""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from classifier import DEFAULT_SPLIT
from classifier.data import split_lesion_ids
from classifier.taxonomy import load_taxonomy
from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import user_roles_add
from readerstudy.demo.accounts import DemoLogin, demo_logins_path
from readerstudy.reading.models import Phase
from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
from readerstudy.scoring.selectors import study_cnn_probabilities
from readerstudy.stats.simulate import SimulatedPanel, simulate_reader_panel
from readerstudy.stats.simulate_aided import simulate_aided_reading
from readerstudy.stats.simulate_classes import simulate_class_answers
from readerstudy.studies.design import (
    DIAGNOSIS,
    DIAGNOSIS_MANAGEMENT,
    MANAGEMENT,
    StudyDesign,
    study_design,
)
from readerstudy.studies.ingest.importer import ImportOptions, ImportSource, study_import
from readerstudy.studies.models import Case, Enrolment, Study
from readerstudy.studies.services import (
    enrolment_create,
    reader_profile_save,
    scheme_resolve,
    study_build,
    study_status_set,
    task_resolve,
)

DEMO_STUDY_NAME = "Demo: melanoma vs nevus (dermoscopy, biopsy-proven)"
# The AI-assisted demo (issue 18): the melanoma-vs-nevus management study read sequentially,
# each case unaided and then with the CNN's output, with a faulty-AI check.
AIDED = "aided"
# The diagnosis demos ask the seven HAM10000 classes (Tschandl et al., Lancet Oncol 2019) of
# every biopsy-proven held-out lesion class; the task malignant-vs-benign takes all seven,
# and gives the CNN's ROC curve.
DEMO_STUDY_NAMES = {
    MANAGEMENT: DEMO_STUDY_NAME,
    DIAGNOSIS: "Demo: seven-class diagnosis (dermoscopy, biopsy-proven)",
    DIAGNOSIS_MANAGEMENT: "Demo: diagnosis, then management (dermoscopy, biopsy-proven)",
    AIDED: "Demo: AI-assisted reading (sequential, melanoma vs nevus, dermoscopy)",
}
# What ``demo --design`` offers: the study designs, and the AI-assisted demo.
DEMO_DESIGNS: tuple[str, ...] = (MANAGEMENT, DIAGNOSIS, DIAGNOSIS_MANAGEMENT, AIDED)
# Tschandl et al. (Nat Med 2020) inverted the AI's output on a share of cases to measure
# over-reliance; the demo does so on one case in ten, disclosed in its consent text.
DEMO_FAULTY_AI_PERCENT = 10
DEMO_CONSENT_TEXT = (
    "This is a demonstration study of AI-assisted reading. You answer each case on your own "
    "first; that answer is locked. Then you see the CNN's output and answer again. On some "
    "cases the output shown is deliberately wrong, to measure how far readers rely on the AI."
)
# How far the simulated readers lean on the CNN's shown output (stats.simulate_aided: the
# reader's weight on the AI's evidence is 0.5 ** exp(...), 0 ignoring it and 1 adopting it):
# at 0.5 the typical reader moves halfway toward the AI, the weaker readers more, so the
# switching table shows readers both helped and misled (Maron et al. 2020 reported 39% of
# right answers switched to a wrong AI answer).
DEMO_AUTOMATION_BIAS = 0.5
# Held-out biopsy-proven lesions per class: akiec 34, bcc 49, bkl 73, df 4, mel 92, nv 205,
# vasc 5. The sample keeps every rare class whole.
DEMO_DIAGNOSIS_SAMPLE = {"akiec": 20, "bcc": 25, "bkl": 30, "df": 4, "mel": 40, "nv": 60, "vasc": 5}
# Tschandl et al. 2019: 511 readers named 17.91 of 30 seven-class cases right on average.
SIMULATED_CLASS_ACCURACY = 17.91 / 30
# One source, so that nothing but the lesion tells the classes apart (issue 16): biopsy-proven
# HAM10000 lesions from the shipped model's held-out test split (never seen in training or
# model selection), one image per lesion, all at the same size and compression, drawn with a
# fixed seed. The held-out split has 92 melanoma and 205 nevus lesions proven by histology.
# Left out on purpose: the ISIC UDA-1 set (its 30 melanomas are sharp 1024-px images and its
# nevi carry no recorded confirmation, so image size alone gave the truth away) and the
# full-resolution HAM10000 sample (of its held-out biopsy-proven images one is a melanoma and
# none a nevus: the one sharp image would again be a melanoma).
DEMO_SAMPLE = {"mel": 80, "nv": 120}
DEMO_SEED = 2017
# The simulated panel is calibrated to Brinker et al. (Eur J Cancer 2019): 145 dermatologists,
# mean sensitivity 89.4% and specificity 64.4% for management decisions on melanoma vs nevus.
SIMULATED_SENSITIVITY = 0.894
SIMULATED_SPECIFICITY = 0.644
# The simulated panel's profiles, in turn: a mix of positions and experience bands (Tschandl
# et al. 2019's) so that the analysis page has a line for each subgroup. The simulated
# readers' answers do not depend on them: differences between the lines are chance.
SIMULATED_PROFILES: tuple[tuple[str, bool | None, str], ...] = (
    ("attending", True, ">10"),
    ("resident", False, "<3"),
    ("attending", True, "3-10"),
    ("resident", False, "3-10"),
    ("other_physician", False, "<3"),
    ("attending", True, ">10"),
    ("non_physician", None, "<3"),
)

DOWNLOAD_HELP = """\
The demo needs real skin-lesion images, which are not part of this repository.
Expected under {data}:
  ham10000/HAM10000_metadata.csv and ham10000/images/ISIC_*.jpg
      HAM10000 (Tschandl et al. 2018, CC BY-NC 4.0):
      https://doi.org/10.7910/DVN/DBW86T  (HAM10000_metadata + the image zips)
Put them there, or pass the folder that holds them: python manage.py demo --data PATH
"""


class DemoDataMissing(Exception):
    """The data folder lacks what the demo imports; the message says what to download."""


@dataclass(frozen=True)
class DemoData:
    ham_metadata: Path
    ham_images: Path


def demo_data_locate(folder: Path) -> DemoData:
    data = DemoData(
        ham_metadata=folder / "ham10000" / "HAM10000_metadata.csv",
        ham_images=folder / "ham10000" / "images",
    )
    missing = [path for path in vars(data).values() if not Path(path).exists()]
    if missing:
        listed = "\n".join(f"  missing: {path}" for path in missing)
        raise DemoDataMissing(f"{listed}\n\n" + DOWNLOAD_HELP.format(data=folder))
    return data


def heldout_manifest_write(data: DemoData, target: Path) -> int:
    """Write the HAM10000 rows of the shipped model's held-out test lesions to ``target``."""
    heldout = split_lesion_ids(DEFAULT_SPLIT, "test")
    target.parent.mkdir(parents=True, exist_ok=True)
    with data.ham_metadata.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        fields = [name for name in reader.fieldnames or [] if name]
        rows = [row for row in reader if row["lesion_id"] in heldout]
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def demo_study_get(design: str = MANAGEMENT) -> Study | None:
    return Study.objects.filter(name=DEMO_STUDY_NAMES[design]).order_by("pk").first()


def demo_study_create(
    *,
    coordinator: User,
    data: DemoData,
    sample: dict[str, int] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    design: str = MANAGEMENT,
) -> Study:
    """Create the demo study of ``design`` (a draft) and import its held-out images
    (all-or-nothing).

    ``sample``: held-out HAM10000 cases per diagnosis (default DEMO_SAMPLE, or
    DEMO_DIAGNOSIS_SAMPLE for the designs that ask a diagnosis)."""
    manifest = Path(settings.VAR_DIR) / "demo" / "ham10000-heldout.csv"
    heldout_manifest_write(data, manifest)
    diagnosis = design in (DIAGNOSIS, DIAGNOSIS_MANAGEMENT)
    assistance: dict[str, Any] = {}
    if design == AIDED:
        assistance = {
            "ai_assistance": str(Study.AiAssistance.SEQUENTIAL),
            # The shipped CNN is a network: its Grad-CAM map shows beside its probability.
            "ai_show_saliency": True,
            "faulty_ai_percent": DEMO_FAULTY_AI_PERCENT,
            "consent_text": DEMO_CONSENT_TEXT,
        }
    study = study_build(
        name=DEMO_STUDY_NAMES[design],
        task=task_resolve(name="malignant-vs-benign" if diagnosis else "melanoma-vs-nevus"),
        modality=str(Study.Modality.DERMOSCOPIC),
        created_by=coordinator,
        show_clinical_info=True,
        show_feedback=True,
        design=design if design != AIDED else MANAGEMENT,
        scheme=scheme_resolve(name="ham7") if diagnosis else None,
        **assistance,
    )
    default_sample = DEMO_DIAGNOSIS_SAMPLE if diagnosis else DEMO_SAMPLE
    imported = study_import(
        study=study,
        source=ImportSource(
            images=data.ham_images,
            manifest=manifest,
            images_name="HAM10000 images",
            manifest_name="HAM10000 held-out lesions",
        ),
        options=ImportOptions(
            manifest_format="ham10000",
            biopsy_proven_only=True,
            sample=dict(sample or default_sample),
            seed=DEMO_SEED,
        ),
        created_by=coordinator,
        progress=progress,
    )
    imported.study.coordinators.add(coordinator)
    return imported.study


def demo_study_open(*, study: Study, coordinator: User, acknowledge_confounds: bool) -> Study:
    """Open the demo study for grading, as its coordinator. The confound audit must pass, or
    its warnings be acknowledged (``acknowledge_confounds``); raises ValidationError naming
    the warnings otherwise."""
    if study.status != Study.Status.DRAFT:
        return study
    with transaction.atomic():
        return study_status_set(
            study=study,
            status=Study.Status.OPEN,
            acknowledged_by=coordinator if acknowledge_confounds else None,
        )


def demo_readers_enrol(*, study, logins: list[DemoLogin], coordinator: User) -> None:
    for login in logins:
        if login.role != Role.READER:
            continue
        reader = User.objects.get(username=login.username)
        if not Enrolment.objects.filter(study=study, reader=reader).exists():
            enrolment_create(study=study, reader=reader, enrolled_by=coordinator)


def demo_panel_ensure(*, study, n_readers: int, coordinator: User) -> int:
    """Add a simulated reader panel (once): Roe-Metz readers calibrated to Brinker 2019.

    In an AI-assisted study each reader also answers every case with the CNN
    (``_simulated_aided``), so the CNN must have scored the study first (the demo scores it
    before it opens). Returns the number of simulated readers added (0 when the panel
    exists)."""
    if n_readers <= 0 or Enrolment.objects.filter(study=study, simulated=True).exists():
        return 0
    cases = list(
        Case.objects.filter(study=study)
        .order_by("position")
        .values_list("pk", "truth", "diagnosis")
    )
    truth = np.asarray([int(t) for _, t, _ in cases])
    low, high = study.confidence_range
    panel = simulate_reader_panel(
        truth,
        n_readers,
        mean_sensitivity=SIMULATED_SENSITIVITY,
        mean_specificity=SIMULATED_SPECIFICITY,
        seed=DEMO_SEED,
        rating_scale=(low, high),
    )
    design = study_design(study)
    classes = _simulated_classes(design, [d for _, _, d in cases], n_readers)
    aided = _simulated_aided(study, [pk for pk, _, _ in cases], truth, panel, (low, high))
    for number, reader in enumerate(panel.reader_inputs()):
        with transaction.atomic():
            # No usable password: nobody can log in as a simulated reader.
            user = User.objects.create(
                username=f"simulated-{secrets.token_hex(4)}",
                first_name="Simulated",
                last_name="reader",
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user_roles_add(user=user, roles=[Role.READER])
            enrolment, _ = enrolment_create(
                study=study, reader=user, enrolled_by=coordinator, simulated=True
            )
            position, certified, experience = SIMULATED_PROFILES[number % len(SIMULATED_PROFILES)]
            reader_profile_save(
                enrolment=enrolment,
                position=position,
                board_certified=certified,
                experience=experience,
                notes="simulated reader",
                saved_by=coordinator,
            )
            management = design.management is not None
            answers = [
                SimulatedAnswer(
                    case_id=cases[int(index)][0],
                    biopsy=bool(decision) if management else None,
                    confidence=round(float(rating)) if management else None,
                    diagnosis_class=classes[number][int(index)] if classes else None,
                )
                for index, decision, rating in zip(
                    reader.case_index, reader.decision, reader.rating, strict=True
                )
            ]
            if aided is not None:
                answers += [
                    SimulatedAnswer(
                        case_id=cases[int(index)][0],
                        biopsy=bool(aided[0][number, index]),
                        confidence=round(float(aided[1][number, index])),
                        phase=str(Phase.AIDED),
                    )
                    for index in reader.case_index
                ]
            decision_record_simulated(enrolment=enrolment, answers=answers)
    return n_readers


def _simulated_aided(
    study: Study,
    case_ids: list[int],
    truth: np.ndarray,
    panel: SimulatedPanel,
    scale: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray] | None:
    """The panel's aided decisions and ratings (readers x cases) in an AI-assisted management
    study: the unaided answers moved toward the CNN's output as shown (inverted on the
    faulty-AI cases) with DEMO_AUTOMATION_BIAS (``stats.simulate_aided``). A case the CNN
    could not score showed no output, so its aided answer stays the unaided one. None for a
    study read unaided."""
    if not study.aided:
        return None
    scores = study_cnn_probabilities(study)
    faulty = set(
        Case.objects.filter(study=study, ai_output_inverted=True).values_list("pk", flat=True)
    )
    decision = panel.decision.astype(bool).copy()
    rating = panel.rating.astype(np.float64).copy()
    scored = np.asarray([pk in scores for pk in case_ids], dtype=bool)
    if scored.any() and 0 < truth[scored].sum() < scored.sum():
        moved = simulate_aided_reading(
            truth[scored],
            decision[:, scored],
            rating[:, scored],
            np.asarray([scores[pk] for pk, s in zip(case_ids, scored, strict=True) if s]),
            automation_bias=DEMO_AUTOMATION_BIAS,
            seed=DEMO_SEED,
            rating_scale=scale,
            faulty=np.asarray([pk in faulty for pk, s in zip(case_ids, scored, strict=True) if s]),
        )
        decision[:, scored] = moved.decision
        rating[:, scored] = moved.rating
    return decision, rating


def _simulated_classes(
    design: StudyDesign, diagnoses: list[str], n_readers: int
) -> list[list[str]]:
    """Each simulated reader's class per case (stats.simulate_classes), at the mean accuracy
    of Tschandl 2019's readers; wrong answers fall three times as often on a class of the
    same lineage (melanocytic, epidermal, ...) as on another. Empty without a diagnosis.

    In the diagnosis-then-management demo the two answers are drawn independently: the
    simulation shows every figure, not how a dermatologist's two answers go together."""
    scheme = design.scheme
    if scheme is None:
        return []
    taxonomy = load_taxonomy()
    codes = scheme.codes
    lineage = [
        {taxonomy.diagnoses[d].lineage for d in c.diagnoses if d in taxonomy.diagnoses}
        for c in scheme.classes
    ]
    confusion = np.array([[3.0 if a & b else 1.0 for b in lineage] for a in lineage])
    truth = [codes.index(scheme.class_of(d) or codes[0]) for d in diagnoses]
    answers = simulate_class_answers(
        truth,
        len(codes),
        n_readers,
        mean_accuracy=SIMULATED_CLASS_ACCURACY,
        confusion=confusion,
        seed=DEMO_SEED,
    )
    return [[codes[int(i)] for i in row] for row in answers]


def demo_reset() -> None:
    """Remove the demo study (cases, files, decisions), its simulated readers, and the demo
    accounts, so the next run starts over."""
    for study in Study.objects.filter(name__in=DEMO_STUDY_NAMES.values()):
        simulated = list(
            Enrolment.objects.filter(study=study, simulated=True).values_list("reader", flat=True)
        )
        for case in study.cases.all():
            for field in (case.image, case.display_image, case.thumbnail):
                if field:
                    field.storage.delete(field.name)
        study.delete()
        User.objects.filter(pk__in=simulated).delete()
    saved = demo_logins_path()
    if saved.exists():
        User.objects.filter(username__in=json.loads(saved.read_text())).delete()
        saved.unlink()
