"""Serving a case's stored image. Every view that shows an image calls this after it has
checked that the user may see the case; image files are never served as plain media URLs.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from readerstudy.studies.models import Case

ImageVariant = Literal["full", "display", "thumbnail"]
# An image URL always names the same bytes (see case_image_response): the reader's browser
# keeps it and never asks again, and no shared cache may keep it at all.
IMAGE_CACHE_CONTROL = "private, max-age=31536000, immutable"


def _token_user(request: HttpRequest) -> Any:
    """The user of a valid ``Authorization: Token ...`` header, else None."""
    try:
        found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        return None
    return None if found is None else found[0]


def image_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 for anonymous callers, before any login redirect that the view's own checks make.

    An image URL leads nowhere for anyone who may not see the image, signed in or not: no
    redirect that carries the case's id into the login page's ``?next=``, and an ``<img>``
    could not follow one anyway.

    API clients sign in with their token, as on the API: the image URLs that the API returns
    are these views, so the same ``Authorization: Token ...`` header opens them.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            user = _token_user(request)
            if user is None:
                raise Http404("no such image")
            request.user = user
        return view(request, *args, **kwargs)

    return wrapped


def case_image_response(case: Case, variant: ImageVariant) -> HttpResponse:
    """The stored, re-encoded image with headers that reveal nothing about the case.

    The response has the real content type, ``X-Content-Type-Options: nosniff`` (set by
    SecurityMiddleware as well), no file name (no Content-Disposition), and is cacheable by
    the user's own browser only, for good: an image URL names a case's public id (a random
    UUID, never reused) and a variant, and a stored image is never rewritten.

    With ``READERSTUDY_MEDIA_ACCEL`` set, the caller has already passed every access check
    and the web server in front sends the bytes: the answer is empty and names the stored
    file in ``X-Accel-Redirect`` (nginx, an ``internal`` location) or ``X-Sendfile``.
    """
    field = {"full": case.image, "display": case.display_image, "thumbnail": case.thumbnail}.get(
        variant
    )
    if not field:
        raise Http404("no such image")
    content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    accel = settings.READERSTUDY_MEDIA_ACCEL
    response: HttpResponse
    if accel:
        if not field.storage.exists(field.name):
            raise Http404("image file missing")
        response = HttpResponse(content_type=content_type)
        if accel == "nginx":
            response["X-Accel-Redirect"] = quote(
                settings.READERSTUDY_MEDIA_ACCEL_LOCATION + field.name
            )
        else:
            response["X-Sendfile"] = field.path
    else:
        try:
            handle = field.open("rb")
        except FileNotFoundError:
            raise Http404("image file missing") from None
        response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = IMAGE_CACHE_CONTROL
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers.pop("Content-Disposition", None)
    return response
