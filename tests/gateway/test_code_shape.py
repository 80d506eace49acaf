"""The shape of gateway/ the style guide asks for, checked rather than remembered.

The direction of imports between its layers is import-linter's contract (``make lint``); here:
small functions, and a docstring that states each module's job.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
#: Most lines a function may span (data tables aside: there are none in functions here).
LONGEST = 60
MODULES = sorted(
    p for p in GATEWAY.rglob("*.py") if "migrations" not in p.relative_to(GATEWAY).parts
)


def _name(path: Path) -> str:
    return str(path.relative_to(GATEWAY.parent))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_function_is_longer_than_sixty_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > LONGEST
    ]
    assert long == []


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_module_says_what_it_is_for(path: Path) -> None:
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), _name(path)
