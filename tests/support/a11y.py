"""Accessibility checks in the browser tests: axe-core (tests/support/axe) on WCAG 2.1 A/AA."""

from __future__ import annotations

from tests.support.env import REPO_ROOT

AXE = REPO_ROOT / "tests" / "support" / "axe" / "axe.min.js"


def accessibility_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA violations on the page (add_init_script(AXE) first)."""
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]
    ]
