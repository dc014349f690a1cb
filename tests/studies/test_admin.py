import pytest

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
