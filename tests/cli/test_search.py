"""Finding past work: ``sessions list --search TEXT`` and ``sessions show ID --last N``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.exits import USAGE
from agentcli.cli.runtime import open_cli_store
from agentcli.cli.session_search import SCAN_LIMIT, print_hits, search_sessions
from agentcli.config import load_settings
from agentcli.messages import Message
from agentcli.stores.memory import MemoryStore

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def seed(sessions: dict[str, list[tuple[str, str]]]) -> None:
    """Store these sessions (id: [(role, text), ...]) in the SQLite file of the data directory,
    the first one written first (so it is the least recently active)."""

    async def write() -> None:
        store = open_cli_store(load_settings(env_file=None))
        try:
            for session_id, messages in sessions.items():
                batch = [Message(role=role, content=text) for role, text in messages]  # type: ignore[arg-type]
                await store.append(session_id, batch)
        finally:
            await store.close()

    asyncio.run(write())


@pytest.fixture(autouse=True)
def _sessions(workdir: Path) -> None:
    seed(
        {
            "fruit": [
                ("user", "Which fruit is yellow?"),
                ("assistant", "The banana. Also lemons, which are sour; the KIWI is green."),
            ],
            "travel": [
                ("user", "Plan a trip to Lisbon"),
                ("assistant", "Day one: the castle.\n\tDay two: a kiwi smoothie by the river."),
                ("user", "thanks"),
                ("assistant", "Enjoy!"),
            ],
            "other": [("user", "nothing relevant here"), ("assistant", "indeed")],
        }
    )


def search_json(*args: str) -> list[dict[str, object]]:
    result = invoke("sessions", "list", "--json", "--search", *args)
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_search_finds_content_in_any_case_most_recent_first() -> None:
    found = search_json("kiwi")
    assert [s["id"] for s in found] == ["travel", "fruit"]
    assert found[0]["match"] == {
        "seq": 2,
        "role": "assistant",
        "snippet": "Day one: the castle. Day two: a kiwi smoothie by the river.",
    }
    assert found[0]["messages"] == 4  # the session as sessions list --json gives it
    assert found[1]["match"] == {
        "seq": 2,
        "role": "assistant",
        "snippet": "…Also lemons, which are sour; the KIWI is green.",
    }


def test_search_matches_titles_and_the_first_message_wins() -> None:
    found = search_json("LISBON")
    assert [(s["id"], s["title"]) for s in found] == [("travel", "Plan a trip to Lisbon")]
    assert found[0]["match"] == {"seq": 1, "role": "user", "snippet": "Plan a trip to Lisbon"}


def test_search_limit_and_no_match() -> None:
    assert [s["id"] for s in search_json("kiwi", "--limit", "1")] == ["travel"]
    result = invoke("sessions", "list", "--search", "durian")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no sessions match 'durian'" in result.stderr
    assert invoke("sessions", "list", "--search", "  ").exit_code == USAGE


def test_search_piped_is_one_tab_separated_line_per_session() -> None:
    result = invoke("sessions", "list", "-q", "kiwi")
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["travel", "fruit"]
    cells = lines[0].split("\t")
    assert cells[2:] == [
        "#2 assistant",
        "Day one: the castle. Day two: a kiwi smoothie by the river.",
    ]


def test_search_snippets_are_sanitised_and_short() -> None:
    hostile = "x" * 200 + " \x1b]0;pwned\x07needle \x1b[2J\u202eevil" + "y" * 300
    seed({"hostile": [("user", hostile)]})
    (found,) = search_json("needle")
    snippet = found["match"]["snippet"]  # type: ignore[index]
    assert "\x1b" not in snippet
    assert "\u202e" not in snippet
    assert "needle <U+202E>evil" in snippet
    assert snippet.startswith("…x")
    assert snippet.endswith("y…")
    assert len(snippet) < 140
    piped = invoke("sessions", "list", "--search", "needle").stdout
    assert "\x1b" not in piped
    assert "\u202e" not in piped


async def test_search_stops_at_the_scan_limit_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = MemoryStore()
    # The oldest session holds the only match: it is beyond the limit, so it is not read.
    for number in range(SCAN_LIMIT + 1):
        text = "needle" if number == 0 else "hay"
        await store.append(f"s{number}", [Message(role="user", content=text)])
    hits, truncated = await search_sessions(store, "needle", limit=10)
    assert (hits, truncated) == ([], True)
    hits, truncated = await search_sessions(store, "hay", limit=3)
    assert len(hits) == 3
    assert truncated
    print_hits([], "needle", truncated=True, json_output=True)
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"
    assert "searched the 1,000 most recently active sessions" in captured.err


def test_show_last_n_messages() -> None:
    result = invoke("sessions", "show", "travel", "--last", "2")
    assert result.exit_code == 0, result.output
    assert "#3 user" in result.stdout
    assert "#4 assistant" in result.stdout
    assert "Lisbon" not in result.stdout
    data = json.loads(invoke("sessions", "show", "travel", "-n", "1", "--json").stdout)
    assert [m["content"] for m in data["messages"]] == ["Enjoy!"]
    assert data["session"]["messages"] == 4  # the session's own count, not the slice's
    everything = json.loads(invoke("sessions", "show", "tra", "--json", "--last", "99").stdout)
    assert len(everything["messages"]) == 4
    assert invoke("sessions", "show", "travel", "--last", "0").exit_code == USAGE
