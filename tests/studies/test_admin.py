import pytest

from readerstudy.studies.services import reader_profile_save
from tests.factories import CaseFactory, EnrolmentFactory, UserFactory


@pytest.mark.django_db
def test_superusers_can_browse_studies_cases_enrolments_and_imports(client) -> None:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    case = CaseFactory()
    EnrolmentFactory(study=case.study)
    client.force_login(admin)
    for model in ("study", "case", "enrolment", "importjob"):
        assert client.get(f"/admin/studies/{model}/").status_code == 200, model
    page = client.get(f"/admin/studies/case/{case.pk}/change/")
    assert page.status_code == 200
    assert 'name="diagnosis"' not in page.content.decode()  # truth is read-only here


@pytest.mark.django_db
def test_superusers_see_reader_profiles_by_pseudonym_and_cannot_edit_them(client) -> None:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    enrolment = EnrolmentFactory(
        pseudonym="R07", reader=UserFactory(username="dr-who"), study__name="Nevus panel"
    )
    profile = reader_profile_save(enrolment=enrolment, position="attending", experience=">10")
    client.force_login(admin)
    page = client.get("/admin/studies/readerprofile/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "R07" in html and "Nevus panel" in html
    assert "Attending (consultant) dermatologist" in html and "More than 10 years" in html
    assert "dr-who" not in html  # the reader's account stays in the enrolments' admin
    detail = client.get(f"/admin/studies/readerprofile/{profile.pk}/change/")
    assert detail.status_code == 200
    assert "dr-who" not in detail.content.decode()
    assert 'name="position"' not in detail.content.decode()  # view only
    assert client.get("/admin/studies/readerprofile/add/").status_code == 403
