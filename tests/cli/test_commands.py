"""The commands through Typer's runner: output, JSON, files and exit codes."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.cmd_sessions import prune_cutoff, prune_sessions
from agentcli.cli.exits import AGENT_ERROR, CONFIG_ERROR, FAILED, SESSION_ERROR, USAGE

from .terminal import agent

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def run_json(*args: str, input: str | None = None) -> dict[str, object]:
    result = invoke("run", "--json", *args, input=input)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture(autouse=True)
def _cwd(workdir: Path) -> None:
    """Every test runs in a scratch directory with its own data directory."""


# ---------------------------------------------------------------------- basics


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("agentcli ")


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("chat", "run", "sessions", "agents", "config", "doctor"):
        assert command in result.stdout


def test_unknown_option_is_a_usage_error() -> None:
    assert invoke("run", "--frobnicate").exit_code == USAGE


# ---------------------------------------------------------------------- run


def test_run_prints_the_answer_plainly() -> None:
    result = invoke("run", "--agent", agent("RepeatAgent"), "hello *world*")
    assert result.exit_code == 0
    assert result.stdout == "hello *world*\n"  # not a terminal: plain text, no Markdown


def test_run_default_agent_is_echo() -> None:
    result = invoke("run", "hi")
    assert result.exit_code == 0
    assert result.stdout.startswith("You said: hi")


def test_run_appends_piped_stdin() -> None:
    data = run_json("--agent", agent("RepeatAgent"), "summarise", input="line 1\nline 2\n")
    assert data["output"] == "summarise\n\nline 1\nline 2"


def test_run_reads_stdin_alone() -> None:
    data = run_json("--agent", agent("RepeatAgent"), input="only stdin\n")
    assert data["output"] == "only stdin"


def test_run_without_prompt_is_a_usage_error() -> None:
    result = invoke("run", input="")
    assert result.exit_code == USAGE
    assert "no prompt" in result.stderr


def test_run_json_has_usage_context_and_session() -> None:
    data = run_json("--agent", agent("GaugeAgent"), "fill 50")
    assert data["context"]["level"] == "green"  # type: ignore[index]
    assert data["usage"]["cost"] == 0.0012  # type: ignore[index]
    session_id = data["session_id"]
    assert isinstance(session_id, str)
    follow = run_json("--agent", agent("RepeatAgent"), "--session", session_id, "again")
    assert follow["session_id"] == session_id
    listed = json.loads(invoke("sessions", "list", "--json").stdout)
    assert [s["messages"] for s in listed] == [4]


def test_run_continue_adds_to_the_latest_session() -> None:
    first = run_json("--agent", agent("RepeatAgent"), "one")
    second = run_json("--agent", agent("RepeatAgent"), "--continue", "two")
    assert first["session_id"] == second["session_id"]


def test_run_session_and_continue_together_is_a_usage_error() -> None:
    result = invoke("run", "--session", "a", "--continue", "x")
    assert result.exit_code == USAGE


def test_run_system_prompt_reaches_the_agent(tmp_path: Path) -> None:
    agent_file = tmp_path / "sysagent.py"
    agent_file.write_text(
        "from agentcli import AgentInterface, AgentResponse\n"
        "class Sys(AgentInterface):\n"
        "    async def process(self, context):\n"
        "        return AgentResponse(output=f'system={context.system_prompt}')\n"
    )
    result = invoke("run", "--agent", f"{agent_file}:Sys", "--system", "be terse", "hi")
    assert result.stdout.strip() == "system=be terse"


def test_run_agent_failure_exits_3() -> None:
    result = invoke("run", "--agent", agent("BrokenAgent"), "hi")
    assert result.exit_code == AGENT_ERROR
    assert "the model fell over" in result.stderr
    assert "Traceback" not in result.output


def test_run_agent_reported_error_exits_3() -> None:
    result = invoke("run", "--agent", agent("ErrorAgent"), "hi")
    assert result.exit_code == AGENT_ERROR
    assert "quota exceeded" in result.stderr


def test_run_sanitises_plain_output() -> None:
    result = invoke("run", "--agent", agent("HostileAgent"), "hi")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout
    assert "\x9b" not in result.stdout
    assert "click me (https://evil.example/phish)" in result.stdout


def test_tool_lines_go_to_stderr_when_piped() -> None:
    result = invoke("run", "--agent", agent("ToolAgent"), "weather?")
    assert result.stdout == "It is 3 °C in Oslo.\n"
    assert "→ lookup" in result.stderr


# ---------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("opnai:gpt-4o", "Did you mean 'openai:gpt-4o'?"),
        ("nonsense", "unknown agent spec"),
        ("missing_file.py:Agent", "does not exist"),
        (f"{Path(__file__).parent / 'agents.py'}:NoSuchAgent", "has no attribute"),
    ],
)
def test_bad_agent_spec_is_a_config_error(spec: str, message: str) -> None:
    result = invoke("run", "--agent", spec, "hi")
    assert result.exit_code == CONFIG_ERROR
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # one line (rich may wrap it)
    assert "Traceback" not in result.output


def test_malformed_env_file_names_the_line(workdir: Path) -> None:
    (workdir / ".env").write_text("GOOD=1\nthis line is broken\n")
    result = invoke("run", "hi")
    assert result.exit_code == CONFIG_ERROR
    assert "line 2" in result.stderr


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_CONTEXT_WINDOW", "lots")
    result = invoke("config")
    assert result.exit_code == CONFIG_ERROR
    assert "AGENTCLI_CONTEXT_WINDOW" in result.stderr


# ---------------------------------------------------------------------- sessions


def _make_session(text: str = "first question") -> str:
    data = run_json("--agent", agent("RepeatAgent"), text)
    session_id = data["session_id"]
    assert isinstance(session_id, str)
    return session_id


def test_sessions_list_and_show() -> None:
    session_id = _make_session()
    listed = json.loads(invoke("sessions", "list", "--json").stdout)
    assert listed[0]["id"] == session_id
    assert listed[0]["title"] == "first question"
    assert listed[0]["messages"] == 2
    assert listed[0]["tokens"] > 0
    table = invoke("sessions", "list").stdout
    assert session_id in table
    assert "first question" in table

    shown = invoke("sessions", "show", session_id[:5])  # a unique prefix is enough
    assert shown.exit_code == 0
    assert "#1 user" in shown.stdout
    assert "#2 assistant" in shown.stdout
    as_json = json.loads(invoke("sessions", "show", session_id, "--json").stdout)
    assert [m["role"] for m in as_json["messages"]] == ["user", "assistant"]


def test_sessions_show_unknown_exits_5() -> None:
    result = invoke("sessions", "show", "nope")
    assert result.exit_code == SESSION_ERROR
    assert "no session" in result.stderr


def test_sessions_export_and_import(workdir: Path) -> None:
    session_id = _make_session("export me")
    markdown = invoke("sessions", "export", session_id)
    assert markdown.exit_code == 0
    assert "export me" in markdown.stdout

    out = workdir / "copy.json"
    assert invoke("sessions", "export", session_id, "-o", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    assert document["session"]["id"] == session_id

    into_dir = invoke("sessions", "export", session_id, "--format", "md", "-o", str(workdir))
    assert into_dir.exit_code == 0
    assert (workdir / f"session-{session_id}.md").exists()

    imported = invoke("sessions", "import", str(out), "--id", "restored")
    assert imported.exit_code == 0, imported.output
    assert "imported session restored (2 messages)" in imported.stderr
    again = invoke("sessions", "import", str(out))  # the same id exists already
    assert again.exit_code == USAGE

    bad = invoke("sessions", "export", session_id, "--format", "pdf")
    assert bad.exit_code == USAGE


def test_sessions_import_rejects_garbage(workdir: Path) -> None:
    junk = workdir / "junk.json"
    junk.write_text("{not json")
    result = invoke("sessions", "import", str(junk))
    assert result.exit_code == USAGE
    assert "Traceback" not in result.output
    binary = workdir / "binary.json"
    binary.write_bytes(b"\xd0\x00\xff not text")
    result = invoke("sessions", "import", str(binary))
    assert result.exit_code == USAGE
    assert "not a session export" in result.stderr
    assert "internal error" not in result.stderr


def test_sessions_import_reads_stdin(workdir: Path) -> None:
    exported = invoke("sessions", "export", _make_session("from a pipe"), "--format", "json")
    imported = invoke("sessions", "import", "-", "--id", "piped", input=exported.stdout)
    assert imported.exit_code == 0, imported.output
    assert "imported session piped (2 messages)" in imported.stderr


def test_sessions_export_to_an_unwritable_place_is_one_line(workdir: Path) -> None:
    session_id = _make_session()
    (workdir / "a-file").write_text("")
    result = invoke("sessions", "export", session_id, "-o", str(workdir / "a-file" / "x.md"))
    assert result.exit_code == USAGE
    assert "cannot write" in result.stderr
    assert "internal error" not in result.stderr


def test_sessions_delete() -> None:
    session_id = _make_session()
    assert invoke("sessions", "delete", session_id).exit_code == 0
    assert json.loads(invoke("sessions", "list", "--json").stdout) == []
    assert invoke("sessions", "delete", session_id).exit_code == SESSION_ERROR


def _named_session(session_id: str) -> None:
    run_json("--agent", agent("RepeatAgent"), "--session", session_id, "hello")


def _session_ids() -> list[str]:
    return sorted(s["id"] for s in json.loads(invoke("sessions", "list", "--json").stdout))


def test_sessions_delete_takes_unique_prefixes_like_show() -> None:
    for session_id in ("alpha1", "alpha2", "beta", "betamax"):
        _named_session(session_id)

    ambiguous = invoke("sessions", "delete", "beta-none", "alpha")
    assert ambiguous.exit_code == USAGE
    assert "alpha1" in ambiguous.stderr  # the candidates are named
    assert "alpha2" in ambiguous.stderr
    assert _session_ids() == ["alpha1", "alpha2", "beta", "betamax"]  # nothing deleted

    # A unique prefix names its session; an exact id wins over the ids it is a prefix of.
    deleted = invoke("sessions", "delete", "alpha2", "alpha1", "beta")
    assert deleted.exit_code == 0, deleted.output
    assert "deleted 3 session(s)" in deleted.stderr
    assert _session_ids() == ["betamax"]

    partly = invoke("sessions", "delete", "bet", "nope")
    assert partly.exit_code == SESSION_ERROR
    assert "deleted 1 session(s)" in partly.stderr
    assert "nope" in partly.stderr
    assert _session_ids() == []


def test_sessions_import_over_an_existing_id_names_real_options(workdir: Path) -> None:
    out = workdir / "copy.json"
    assert invoke("sessions", "export", _make_session(), "-o", str(out)).exit_code == 0
    again = invoke("sessions", "import", str(out))
    assert again.exit_code == USAGE
    assert "already exists" in again.stderr
    assert "overwrit" not in again.stderr
    suggested = re.findall(r"--[a-z][a-z-]*", again.stderr)
    assert "--id" in suggested
    help_text = invoke("sessions", "import", "--help").stdout
    for option in suggested:
        assert re.search(rf"{option}\b", help_text), option


def test_sessions_prune(workdir: Path) -> None:
    _make_session()
    dry = invoke("sessions", "prune", "--older-than", "1h", "--dry-run")
    assert dry.exit_code == 0
    assert "would delete 0" in dry.stderr
    # The session is seconds old: nothing is older than an hour or 30 days.
    assert "deleted 0" in invoke("sessions", "prune", "--older-than", "30d").stderr
    assert invoke("sessions", "prune", "--older-than", "soon").exit_code == USAGE
    # Longer than the calendar goes back: nothing is that old (not an overflow).
    ancient = invoke("sessions", "prune", "--older-than", "1000000d")
    assert ancient.exit_code == 0, ancient.output
    assert "deleted 0" in ancient.stderr
    assert invoke("sessions", "prune", "--older-than", "99999999999d").exit_code == USAGE


def test_prune_deletes_old_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    """The clock is an argument: 40 days from now, a session made now is 40 days old."""
    _make_session()
    later = datetime.now(UTC) + timedelta(days=40)
    prune_sessions("30d", dry_run=True, now=later)
    assert "would delete 1" in capsys.readouterr().err
    prune_sessions("60d", dry_run=False, now=later)
    assert "deleted 0" in capsys.readouterr().err
    prune_sessions("30d", dry_run=False, now=later)
    assert "deleted 1" in capsys.readouterr().err
    assert json.loads(invoke("sessions", "list", "--json").stdout) == []


def test_prune_cutoff_goes_back_no_further_than_year_one() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert prune_cutoff(timedelta(days=30), now) == datetime(2026, 1, 30, tzinfo=UTC)
    assert prune_cutoff(timedelta(days=10**6), now) == datetime.min.replace(tzinfo=UTC)


# ---------------------------------------------------------------------- introspection


def test_agents_lists_specs_and_readiness(monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(invoke("agents", "--json").stdout)
    specs = {row["spec"]: row for row in data["agents"]}
    assert set(specs) >= {"echo", "openai:MODEL", "anthropic:MODEL", "ollama:MODEL"}
    assert specs["echo"]["ready"] is True
    assert specs["openai:MODEL"]["ready"] is False
    assert "OPENAI_API_KEY" in specs["openai:MODEL"]["note"]
    assert data["default"] == "echo"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("DEFAULT_MODEL", "gpt-4o-mini")
    data = json.loads(invoke("agents", "--json").stdout)
    assert data["default"] == "openai:gpt-4o-mini"
    listed = invoke("agents")
    assert "openai:MODEL\tyes\t" in listed.stdout  # piped: tab-separated rows
    assert "default agent: openai:gpt-4o-mini" in listed.stderr  # outside the rows


def test_config_never_prints_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret-value")
    monkeypatch.setenv("AGENTCLI_STORE_URL", "sqlite:///x.db")
    for args in (("config",), ("config", "--json")):
        result = invoke(*args)
        assert result.exit_code == 0
        assert "sk-test-very-secret-value" not in result.output
    data = json.loads(invoke("config", "--json").stdout)
    assert data["openai_api_key"].startswith("****")
    assert data["data_dir"] == os.environ["AGENTCLI_DATA_DIR"]


def test_doctor_passes_on_a_fresh_setup() -> None:
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    for name in ("settings", "keys", "data directory", "store", "tokenizer"):
        assert name in result.stdout
    assert "all checks passed" in result.stdout


def test_doctor_fails_with_a_fix(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    blocker = workdir / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("AGENTCLI_DATA_DIR", str(blocker / "data"))
    monkeypatch.setenv("DEFAULT_MODEL", "anthropic:claude-haiku-4-5")
    result = invoke("doctor")
    assert result.exit_code == FAILED
    assert "✗ data directory" in result.stdout
    assert "fix: set AGENTCLI_DATA_DIR" in result.stdout
    assert "✗ default agent" in result.stdout
    assert "ANTHROPIC_API_KEY" in result.stdout


# ---------------------------------------------------------------------- chat without a terminal


def test_chat_reads_lines_when_not_a_terminal() -> None:
    result = invoke("chat", "--agent", agent("RepeatAgent"), input="hello\n/cost\n/nope\nbye\n")
    assert result.exit_code == 0, result.output
    assert "hello\n" in result.stdout
    assert "bye\n" in result.stdout
    assert "with usage" in result.stdout
    assert "unknown command /nope" in result.stderr
    assert "resume with: agentcli chat --session" in result.stdout


def test_chat_ephemeral_saves_nothing(tmp_path: Path) -> None:
    result = invoke("chat", "--ephemeral", input="hello\n")
    assert result.exit_code == 0, result.output
    assert "You said: hello" in result.stdout
    assert "resume with" not in result.stdout
    assert not (tmp_path / "data" / "sessions.db").exists()
    assert json.loads(invoke("sessions", "list", "--json").stdout) == []


def test_unwritable_data_dir_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    blocker = workdir / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("AGENTCLI_DATA_DIR", str(blocker / "data"))
    result = invoke("run", "hi")
    assert result.exit_code == CONFIG_ERROR
    assert "AGENTCLI_DATA_DIR" in result.stderr


def test_sessions_and_exports_are_private(workdir: Path) -> None:
    """A new data directory is its owner's alone, and the database (with its -wal and -shm
    files, when they exist) and every export are readable by their owner only."""
    import os
    import stat

    session_id = _make_session("a private thought")
    data_dir = Path(os.environ["AGENTCLI_DATA_DIR"])
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    files = [data_dir / f"sessions.db{suffix}" for suffix in ("", "-wal", "-shm")]
    assert files[0].exists()
    for file in files:
        if file.exists():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    out = workdir / "copy.md"
    assert invoke("sessions", "export", session_id, "-o", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
