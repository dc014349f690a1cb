"""The API schema's error answers: what every route returns when it refuses a request.

drf-spectacular documents the answers a view declares; the refusals that the authentication,
the role permissions and the serializers give on every route would otherwise be missing, and
a client generated from the schema (or schemathesis) would meet undocumented answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# DRF's validation errors: a list of messages per field ("non_field_errors" for the whole
# request), or {"detail": ...} for a body that cannot be parsed.
INVALID = {
    "type": "object",
    "additionalProperties": {},
    "description": "Messages per field of the request",
}
REFUSALS = {
    "401": "Not signed in: no valid session or token",
    "403": "A signed-in session without a valid CSRF token",
    "404": "No such object, or the user's role may not see it (every route answers 404 "
    "rather than 403 to a user without the role, so nothing tells that it exists)",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, but only a GET list is paginated: DRF pages ``list()`` and never the
    answer to a POST, which the schema would otherwise wrap in count/next/results (and offer
    limit/offset parameters that do nothing)."""

    def _get_paginator(self):  # type: ignore[no-untyped-def]
        return super()._get_paginator() if self.method == "GET" else None


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error_responses(result: dict[str, Any], **_: object) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the refusals to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationErrors", INVALID)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            takes_input = "requestBody" in operation or any(
                parameter.get("in") == "query" for parameter in operation.get("parameters", [])
            )
            if takes_input:
                responses.setdefault(
                    "400",
                    {
                        "description": "The request is invalid",
                        "content": {"application/json": {"schema": _ref("ValidationErrors")}},
                    },
                )
            for code, description in REFUSALS.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": _ref("Error")}},
                    },
                )
    return result
