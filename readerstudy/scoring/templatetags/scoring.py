"""Template tags of the scoring package, for pages of packages below it.

The study page (studies) shows the study's CNN scoring with ``{% study_scoring study %}``:
the page's template composes it, so studies' Python never imports scoring.
"""

from __future__ import annotations

from typing import Any

from django import template

from readerstudy.scoring.selectors import study_scoring_progress_get
from readerstudy.studies.models import Study

register = template.Library()


@register.inclusion_tag("scoring/_study_scoring.html", takes_context=True)
def study_scoring(context: template.Context, study: Study) -> dict[str, Any]:
    """The study's scoring progress, with its buttons (they post back to this page)."""
    return {
        "study": study,
        "scoring": study_scoring_progress_get(study),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
