"""The entry point: fast paths, ``python -m agentcli``, and nothing heavy imported early."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentcli import __version__
from agentcli.cli.entry import main


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout


def test_version_fast_path(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--version"])
    assert capsys.readouterr().out == f"agentcli {__version__}\n"


def test_version_imports_nothing_heavy() -> None:
    out = _python(
        "import sys\n"
        "from agentcli.cli.entry import main\n"
        "main(['--version'])\n"
        "heavy = {'typer', 'rich', 'pydantic', 'prompt_toolkit'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    assert out.splitlines() == [f"agentcli {__version__}", "[]"]


def test_help_does_not_import_providers_or_the_session() -> None:
    out = _python(
        "import sys\n"
        "from agentcli.cli.entry import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'openai', 'anthropic', 'fastapi', 'pydantic_settings', 'prompt_toolkit',\n"
        "         'agentcli.session', 'tiktoken'} & set(sys.modules)\n"
        "print('HEAVY', sorted(heavy))\n"
    )
    assert "HEAVY []" in out


@pytest.mark.parametrize(
    "args", [["run", "ping"], ["--help"], ["run", "--help"], ["sessions", "list", "-n", "x"]]
)
def test_output_to_pipes_leaves_rich_unloaded(tmp_path: Path, args: list[str]) -> None:
    # Plain text needs no rich (a tenth of a one-shot run's start); a terminal gets it.
    code = (
        "import sys\n"
        "from agentcli.cli.entry import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('RICH', sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AGENTCLI_DATA_DIR": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "RICH []" in result.stdout, result.stdout + result.stderr


def test_importing_the_cli_has_no_side_effects() -> None:
    out = _python(
        "import sys, os\n"
        "before = set(os.environ.items())\n"
        "import agentcli.cli.app, agentcli.cli.repl, agentcli.cli.cmd_run\n"
        "print(set(os.environ.items()) == before, sys.excepthook is sys.__excepthook__)\n"
    )
    assert out.strip() == "True True"


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentcli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == f"agentcli {__version__}\n"


def test_console_script_runs_a_prompt() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentcli", "run", "ping"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You said: ping")
