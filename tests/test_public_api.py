"""The public surface: exports match ``__all__``, and importing does nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import agentcli


def test_every_export_resolves() -> None:
    for name in agentcli.__all__:
        assert getattr(agentcli, name) is not None, name


def test_exports_are_what_the_specification_names() -> None:
    for name in ("AgentInterface", "AgentContext", "AgentResponse", "Message", "SessionManager"):
        assert name in agentcli.__all__


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
