"""Reading the project's own source, for the tests that keep one rule in one place."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.env import REPO_ROOT

PACKAGE = REPO_ROOT / "readerstudy"


def python_modules(root: Path = PACKAGE) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the repository, parsed module) for every module under ``root``,
    migrations left out."""
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        yield str(path.relative_to(REPO_ROOT)), ast.parse(path.read_text(), filename=str(path))


def calls_with_string(tree: ast.AST, methods: set[str], value: str) -> list[int]:
    """Line numbers of calls ``x.<method>(..., "value", ...)`` for a method in ``methods``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in methods
        and any(isinstance(arg, ast.Constant) and arg.value == value for arg in node.args)
    ]


ROLE_TESTS = {"has_role", "has_any_role", "user_roles"}


def own_role_gates(root: Path) -> list[str]:
    """``path:line`` of each ``if`` under ``root`` that tests a role itself and answers 404
    (Http404 or DRF's NotFound): a second definition of the gate in accounts.permissions."""
    found = []
    for path, tree in python_modules(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.If):
                continue
            tests_role = any(
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id in ROLE_TESTS
                for call in ast.walk(node.test)
            )
            raises_404 = any(
                isinstance(statement, ast.Raise)
                and any(name in ast.unparse(statement) for name in ("Http404", "NotFound"))
                for statement in node.body
            )
            if tests_role and raises_404:
                found.append(f"{path}:{node.lineno}")
    return found
