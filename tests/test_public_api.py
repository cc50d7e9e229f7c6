"""The public surface: one table drives the exports, and importing does nothing."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import pytest

import agentcli
import agentcli.errors

INIT = Path(agentcli.__file__)

# Modules ``import agentcli`` must not load: SDKs, the CLI's libraries, tokenizers, prices.
HEAVY = (
    "openai",
    "anthropic",
    "rich",
    "typer",
    "prompt_toolkit",
    "pydantic_settings",
    "genai_prices",
    "tiktoken",
    "mcp",
    "httpx",
    "httpx2",
)

# Exports that are neither classes nor functions, so have no ``__module__`` of their own.
NOT_CLASSES = {
    "StreamEvent": "a type alias: the union of the stream event classes",
    "messages_adapter": "a pydantic TypeAdapter instance for list[Message]",
}


def _table() -> dict[str, str]:
    table: dict[str, str] = agentcli._WHERE
    return table


def _imported_heavy(script: str, tmp_path: Path) -> list[str]:
    """The HEAVY modules loaded after running ``script`` in a fresh interpreter."""
    probe = f"{script}\nimport sys\nprint(sorted(set({HEAVY!r}) & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=True,
    )
    loaded: list[str] = ast.literal_eval(result.stdout.strip())
    return loaded


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the imports under ``if TYPE_CHECKING:`` in ``__init__.py``."""
    found: dict[str, str] = {}
    for node in ast.parse(INIT.read_text()).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for statement in node.body:
            assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
            assert statement.level == 0, "use absolute module names"
            assert statement.module is not None
            for alias in statement.names:
                assert alias.asname == alias.name, f"re-export {alias.name} as {alias.name}"
                assert alias.name not in found, f"{alias.name} imported twice"
                found[alias.name] = statement.module
    return found


def test_all_is_the_table() -> None:
    assert agentcli.__all__ == [*sorted(_table()), "__version__"]
    assert len(set(agentcli.__all__)) == len(agentcli.__all__)
    assert dir(agentcli) == sorted(agentcli.__all__)


def test_type_checking_imports_match_the_table() -> None:
    assert _type_checking_imports() == _table()


@pytest.mark.parametrize("name", sorted(agentcli._WHERE))
def test_every_export_comes_from_its_module(name: str) -> None:
    """Each name is the object its module has, and is defined in that module or, for a
    package (``agentcli.agents``, ``agentcli.stores``, ...), in one of its submodules."""
    where = _table()[name]
    value = getattr(agentcli, name)
    assert value is getattr(import_module(where), name)
    if inspect.isclass(value) or inspect.isfunction(value):
        defined_in = value.__module__
        assert defined_in.startswith("agentcli."), defined_in
        assert defined_in == where or defined_in.startswith(where + "."), (name, defined_in)
    else:
        assert name in NOT_CLASSES, f"{name}: a new kind of export; document it in NOT_CLASSES"


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        agentcli.nope  # noqa: B018


def test_the_whole_error_tree_is_exported() -> None:
    assert set(agentcli.errors.__all__) <= set(agentcli.__all__)
    assert issubclass(agentcli.SessionBusyError, agentcli.RuntimeFailure)
    assert issubclass(agentcli.SessionConflictError, agentcli.StoreError)


def test_reports_are_the_typed_ones() -> None:
    """``CleanupReport`` and ``UsageLevel`` are the ``agentcli.usage`` models that
    ``AgentResponse`` carries, not a look-alike from another module."""
    from agentcli.messages import AgentResponse
    from agentcli.usage import CleanupReport, UsageLevel

    assert agentcli.CleanupReport is CleanupReport
    assert agentcli.UsageLevel is UsageLevel
    assert AgentResponse.model_fields["cleanup"].annotation == CleanupReport | None


def test_exports_are_what_the_specification_names() -> None:
    for name in ("AgentInterface", "AgentContext", "AgentResponse", "Message", "SessionManager"):
        assert name in agentcli.__all__


def test_import_agentcli_loads_nothing_heavy(tmp_path: Path) -> None:
    assert _imported_heavy("import agentcli", tmp_path) == []


def test_resolving_every_export_loads_no_sdk(tmp_path: Path) -> None:
    """Even the provider agents' classes and ``Settings`` leave the SDKs and the CLI's
    libraries unloaded: those come in when an agent is made or a command runs."""
    script = "import agentcli\nfor name in agentcli.__all__: getattr(agentcli, name)"
    assert _imported_heavy(script, tmp_path) == ["pydantic_settings"]


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    """Importing agentcli loads no heavy module, adds no log handler and writes no file."""
    script = textwrap.dedent(
        """
        import logging, os, sys
        before = set(os.listdir("."))
        import agentcli
        import agentcli.session, agentcli.agents, agentcli.stores
        heavy = {"openai", "anthropic", "fastapi", "tiktoken", "typer", "rich", "sqlite3"}
        print(sorted(heavy & set(sys.modules)))
        print(logging.getLogger("agentcli").handlers, logging.getLogger().handlers)
        print(sorted(set(os.listdir(".")) - before))
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert result.stdout.splitlines() == ["[]", "[] []", "[]"], result.stdout
    assert not (tmp_path / ".local").exists()


def test_bare_import_is_lazy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import agentcli, sys; print('pydantic' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
