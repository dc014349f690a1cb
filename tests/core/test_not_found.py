"""A path no route matches answers 404 in the API's own form under /api/, HTML elsewhere."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/studies/not-a-number/", "/api/v1/scoring/models/-1/", "/api/v1/nothing/"]
)
def test_an_unknown_api_path_answers_json_like_a_missing_object(path):
    response = Client().get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_an_unknown_page_answers_the_html_404():
    response = Client().get("/studies/not-a-number/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
