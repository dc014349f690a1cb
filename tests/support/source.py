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
