"""factory-boy factories for the platform's models."""

from __future__ import annotations

import factory
import numpy as np
from django.contrib.auth.models import Group, User

from classifier.taxonomy import load_taxonomy
from readerstudy.accounts.roles import Role

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs: object) -> None:
        if create and extracted:
            # get_or_create: a transactional test flushes the groups that the roles
            # migration made, and later transactional tests still need them.
            self.groups.add(*(Group.objects.get_or_create(name=r.value)[0] for r in extracted))


def jpeg_bytes(*, seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG of random colours: distinct pixels for every seed."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "studies.Study"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Study {n}")
    task = "melanoma-vs-nevus"
    task_definition = factory.LazyFunction(
        lambda: load_taxonomy().task("melanoma-vs-nevus").to_dict()
    )
    taxonomy_version = "1"
    modality = "dermoscopic"
    status = "open"
    # Tests about grading start at the first case; the profile's own tests turn this on.
    require_reader_profile = False
    created_by = factory.SubFactory(UserFactory, roles=[Role.COORDINATOR])

    @factory.post_generation
    def coordinators(self, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create:
            self.coordinators.add(*(extracted or [self.created_by]))


class CaseFactory(factory.django.DjangoModelFactory):
    """A case with real (small, synthetic) image files in storage."""

    class Meta:
        model = "studies.Case"

    study = factory.SubFactory(StudyFactory)
    position = factory.Sequence(lambda n: n)
    diagnosis = factory.Iterator(["mel", "nv", "nv"])
    diagnosis_label = factory.LazyAttribute(lambda c: c.diagnosis)
    truth = factory.LazyAttribute(lambda c: c.diagnosis == "mel")
    biopsy_proven = True
    confirmation = "histo"
    source_id = factory.Sequence(lambda n: f"ISIC_{9000000 + n}")
    source_filename = factory.LazyAttribute(lambda c: f"{c.source_id}.jpg")
    width = 64
    height = 48
    pixel_sha256 = factory.Sequence(lambda n: f"{n:064x}")
    age = 55
    sex = "female"
    site = "back"

    @factory.lazy_attribute_sequence
    def image(self, n: int) -> object:
        from django.core.files.base import ContentFile

        return ContentFile(jpeg_bytes(seed=n), name=f"cases/test/{n:08d}-full.jpg")

    @factory.lazy_attribute_sequence
    def display_image(self, n: int) -> object:
        from django.core.files.base import ContentFile

        return ContentFile(jpeg_bytes(seed=n), name=f"cases/test/{n:08d}-display.jpg")

    @factory.lazy_attribute_sequence
    def thumbnail(self, n: int) -> object:
        from django.core.files.base import ContentFile

        return ContentFile(jpeg_bytes(seed=n, size=(32, 24)), name=f"cases/test/{n:08d}-thumb.jpg")


class EnrolmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "studies.Enrolment"

    study = factory.SubFactory(StudyFactory)
    reader = factory.SubFactory(UserFactory, roles=[Role.READER])
    pseudonym = factory.Sequence(lambda n: f"R{n + 1:02d}")


def cnn_scores_create(cases, model_version, probabilities, embeddings) -> list:
    """One stored CNN score per case, shaped as a worker writes it: the melanoma probability
    split over mel/nv and the embedding as float16 bytes."""
    from readerstudy.scoring.models import CnnScore

    return CnnScore.objects.bulk_create(
        [
            CnnScore(
                case=case,
                model_version=model_version,
                probability=float(p),
                fine_probabilities={"mel": float(p), "nv": 1 - float(p)},
                embedding=np.asarray(embedding).astype(np.float16).tobytes(),
                device="cpu:fp32",
                worker_host="test",
                duration_ms=1.0,
            )
            for case, p, embedding in zip(cases, probabilities, embeddings, strict=True)
        ]
    )
