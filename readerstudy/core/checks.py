"""Deploy checks for what Django's own ``check --deploy`` does not cover.

They run with ``manage.py check --deploy`` and fail CI (``--fail-level WARNING``) when a
production configuration loses the Content-Security-Policy, framing protection or nosniff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_security_policy(app_configs: Sequence[Any] | None, **kwargs: Any) -> list:
    errors = []
    directives = getattr(settings, "CONTENT_SECURITY_POLICY", {}).get("DIRECTIVES", {})
    if directives.get("object-src") != ["'none'"]:
        errors.append(Warning("CSP must set object-src 'none'.", id="readerstudy.W001"))
    for directive in ("default-src", "script-src", "style-src"):
        sources = directives.get(directive, [])
        unsafe = [s for s in sources if s in ("'unsafe-inline'", "'unsafe-eval'", "*")]
        if not sources or unsafe:
            errors.append(
                Warning(
                    f"CSP {directive} must be set and must not allow {unsafe or 'everything'}.",
                    id="readerstudy.W002",
                )
            )
    if directives.get("frame-ancestors") != ["'none'"]:
        errors.append(Warning("CSP must set frame-ancestors 'none'.", id="readerstudy.W003"))
    if "csp.middleware.CSPMiddleware" not in settings.MIDDLEWARE:
        errors.append(Warning("CSPMiddleware is not installed.", id="readerstudy.W004"))
    if settings.SECURE_HSTS_SECONDS < 31_536_000:
        errors.append(
            Warning("HSTS must last at least one year (31536000 s).", id="readerstudy.W005")
        )
    if not settings.SESSION_COOKIE_HTTPONLY or settings.SESSION_COOKIE_SAMESITE not in (
        "Lax",
        "Strict",
    ):
        errors.append(
            Warning("Session cookies must be HttpOnly and SameSite.", id="readerstudy.W006")
        )
    return errors
