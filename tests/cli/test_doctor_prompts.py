"""``agentcli doctor`` checks the saved prompts as it checks the sessions: a prompts directory
or prompt file others may read is reported, ``--fix`` makes them 0700 and 0600, and symbolic
links there are neither followed nor changed."""

from __future__ import annotations

import errno
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def doctor(*args: str) -> str:
    """The report, its lines unwrapped (the console may be 80 columns wide)."""
    return " ".join(invoke("doctor", *args).stdout.split())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _save(name: str, text: str) -> None:
    saved = invoke("prompts", "save", name, text)
    assert saved.exit_code == 0, saved.output


def test_a_first_save_keeps_everything_private(workdir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _save("reviewer", "Review the diff. Be terse.")
    prompts = data / "prompts"
    assert (_mode(data), _mode(prompts), _mode(prompts / "reviewer.txt")) == (0o700, 0o700, 0o600)
    report = doctor()
    assert "permissions: sessions, input history and saved prompts are private to you" in report


def test_loose_prompts_are_reported_then_fixed(workdir: Path, tmp_path: Path) -> None:
    _save("reviewer", "Review the diff. Be terse.")
    _save("poet", "Answer in verse.")
    prompts = tmp_path / "data" / "prompts"
    reviewer, poet = prompts / "reviewer.txt", prompts / "poet.txt"
    prompts.chmod(0o755)
    reviewer.chmod(0o644)
    poet.chmod(0o640)

    report = doctor()
    assert "permissions: other users may read or change" in report
    assert f"{prompts} (0755, want 0700)" in report
    assert f"{reviewer} (0644, want 0600)" in report
    assert f"{poet} (0640, want 0600)" in report
    assert "fix: run `agentcli doctor --fix` (directories 0700, files 0600)" in report
    assert (_mode(prompts), _mode(reviewer)) == (0o755, 0o644)  # reported, not changed

    fixed = doctor("--fix")
    assert "permissions: tightened" in fixed
    assert f"{prompts} 0755 → 0700" in fixed
    assert f"{reviewer} 0644 → 0600" in fixed
    assert (_mode(prompts), _mode(reviewer), _mode(poet)) == (0o700, 0o600, 0o600)

    assert "saved prompts are private to you" in doctor()
    shown = invoke("prompts", "show", "reviewer")
    assert shown.exit_code == 0
    assert "Be terse." in shown.stdout


def test_a_link_in_the_prompts_directory_is_not_followed(workdir: Path, tmp_path: Path) -> None:
    _save("reviewer", "Review the diff.")
    prompts = tmp_path / "data" / "prompts"
    shared = tmp_path / "shared.txt"  # someone else's file, meant to be readable
    shared.write_text("a team prompt\n")
    shared.chmod(0o644)
    (prompts / "team.txt").symlink_to(shared)

    report = doctor()
    assert "saved prompts are private to you" in report
    assert str(shared) not in report
    fixed = doctor("--fix")
    assert str(shared) not in fixed
    assert _mode(shared) == 0o644
    assert (prompts / "team.txt").is_symlink()


def test_a_linked_prompts_directory_is_not_followed(workdir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _save("reviewer", "Review the diff.")  # the data directory, private
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("not a prompt\n")
    elsewhere.chmod(0o755)
    (elsewhere / "notes.txt").chmod(0o644)
    (data / "prompts" / "reviewer.txt").unlink()
    (data / "prompts").rmdir()
    (data / "prompts").symlink_to(elsewhere, target_is_directory=True)

    report = doctor("--fix")
    assert str(elsewhere) not in report
    assert "saved prompts are private to you" in report
    assert (_mode(elsewhere), _mode(elsewhere / "notes.txt")) == (0o755, 0o644)


def test_a_link_that_takes_a_name_after_the_check_is_not_changed(tmp_path: Path) -> None:
    """Between ``doctor`` finding a loose file and ``--fix`` changing it, a link put in its
    place is refused (ELOOP), and what it points to keeps its mode."""
    from agentcli._private_files import loose_modes_within, tighten

    prompts = tmp_path / "prompts"
    prompts.mkdir(mode=0o700)
    prompts.chmod(0o700)
    loose_file = prompts / "reviewer.txt"
    loose_file.write_text("Review the diff.")
    loose_file.chmod(0o644)
    [found] = loose_modes_within(prompts)
    assert (found.path, found.mode, found.wanted) == (loose_file, 0o644, 0o600)

    target = tmp_path / "target.txt"
    target.write_text("someone's\n")
    target.chmod(0o644)
    loose_file.unlink()
    loose_file.symlink_to(target)
    with pytest.raises(OSError, match=re.escape(str(loose_file))) as refused:
        tighten(found)
    assert refused.value.errno == errno.ELOOP
    assert _mode(target) == 0o644
