"""The README's example agent runs as written, from a file and through the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    match = re.search(r"```python\n(# my_agent\.py\n.*?)```", README.read_text(), re.DOTALL)
    assert match is not None, "README lost its my_agent.py example"
    return match.group(1)


def test_the_readme_agent_runs(tmp_path: Path) -> None:
    (tmp_path / "my_agent.py").write_text(_example())
    result = subprocess.run(
        [sys.executable, "my_agent.py"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("HELLO ContextUsage(")


def test_the_readme_agent_runs_in_the_cli(tmp_path: Path) -> None:
    (tmp_path / "my_agent.py").write_text(_example())
    result = subprocess.run(
        [sys.executable, "-m", "agentcli", "run", "--agent", "my_agent.py:ShoutingAgent", "hi"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "HI"
