"""Pagination of the API's lists: DRF's limit/offset, with the parameters checked."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """A limit or offset that is not a whole number (limit >= 1, offset >= 0) is refused with
    400, where DRF reads it as the default: a client paging with ``offset=abc`` would get the
    first page again and again. A limit above ``max_limit`` is read as ``max_limit`` (as DRF
    does; the schema states the maximum): unbounded, ``limit=99999999999999999999`` reached
    the database as a LIMIT out of its integer range and answered 500."""

    max_limit = 1000

    def get_limit(self, request: Request) -> int | None:
        self._checked(request, self.limit_query_param, minimum=1)
        return super().get_limit(request)

    def get_offset(self, request: Request) -> int:
        self._checked(request, self.offset_query_param, minimum=0)
        return super().get_offset(request)

    @staticmethod
    def _checked(request: Request, name: str, *, minimum: int) -> None:
        raw = request.query_params.get(name)
        if raw is None:
            return
        if not raw.isdigit() or int(raw) < minimum:
            raise ValidationError({name: [f"must be a whole number of at least {minimum}"]})

    def get_schema_operation_parameters(self, view: object) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        minimum = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            parameter["schema"]["minimum"] = minimum[parameter["name"]]
            if parameter["name"] == self.limit_query_param:
                parameter["description"] += f" At most {self.max_limit}; more reads as that."
        return parameters
