"""Size caps on the shipped code: a module fits in one reading, a function on one screen.

Lines are physical lines (docstrings and comments count), so the numbers match an editor's.
A function is measured from its ``def`` to its last line, nested functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import agentcli

PACKAGE = Path(agentcli.__file__).resolve().parent
ROOT = PACKAGE.parent.parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _functions(tree: ast.AST) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with its dotted name (``Class.method``, ``outer.inner``)."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((prefix + child.name, child))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def test_the_package_is_found() -> None:
    assert len(_modules()) > 10


def test_modules_are_at_most_400_lines() -> None:
    sizes = {_name(path): len(path.read_text().splitlines()) for path in _modules()}
    too_long = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    listing = "\n".join(f"  {name}: {n} lines" for name, n in sorted(too_long.items()))
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines:\n{listing}"


def test_functions_are_at_most_60_lines() -> None:
    too_long: list[str] = []
    for path in _modules():
        for name, node in _functions(ast.parse(path.read_text(), str(path))):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                too_long.append(f"  {_name(path)}:{node.lineno} {name}: {length} lines")
    listing = "\n".join(too_long)
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines:\n{listing}"
