"""``agentcli models``: genai-prices' bundled table, filtered, as tab-separated lines when
piped (exact cells, no header) and as JSON objects with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.exits import USAGE

runner = CliRunner()


@pytest.fixture(autouse=True)
def _workdir(workdir: Path) -> Path:
    return workdir


def invoke(*args: str) -> Result:
    result = runner.invoke(app, ["models", *args])
    return result


def rows(*args: str) -> list[dict[str, object]]:
    result = invoke("--json", *args)
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_a_model_with_its_window_price_and_spec() -> None:
    mini = next(row for row in rows("gpt-4o-mini") if row["model"] == "gpt-4o-mini")
    assert mini["provider"] == "openai"
    assert mini["context_window"] == 128_000
    assert isinstance(mini["input_per_mtok"], float)
    assert mini["input_per_mtok"] > 0
    assert isinstance(mini["output_per_mtok"], float)
    assert mini["output_per_mtok"] > mini["input_per_mtok"]
    assert mini["spec"] == "openai:gpt-4o-mini"


def test_by_default_only_the_providers_agentcli_talks_to() -> None:
    providers = {row["provider"] for row in rows()}
    assert providers == {"openai", "anthropic"}


def test_a_provider_and_a_filter() -> None:
    found = rows("--provider", "anthropic", "HAIKU")
    assert found
    assert all(row["provider"] == "anthropic" for row in found)
    assert all("haiku" in str(row["model"]) for row in found)


def test_the_filter_matches_the_provider_and_the_agent_spec_too() -> None:
    anthropic = rows("anthropic")
    assert anthropic
    assert {row["provider"] for row in anthropic} == {"anthropic"}
    assert rows("anthropic") == rows("--provider", "anthropic")
    exact = rows("OpenAI:GPT-4o-mini")
    assert exact
    assert all(
        f"{row['provider']}:{row['model']}".startswith("openai:gpt-4o-mini") for row in exact
    )


def test_other_providers_are_listed_without_a_spec() -> None:
    everything = rows("--all")
    assert {"openai", "anthropic", "google"} <= {row["provider"] for row in everything}
    assert all(row["spec"] is None for row in everything if row["provider"] == "google")
    assert rows("--provider", "google")  # any provider of the table, by its id


def test_piped_rows_are_exact_tab_separated_lines() -> None:
    result = invoke("gpt-4o-mini")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "\topenai:gpt-4o-mini" in result.stdout
    assert "openai\tgpt-4o-mini\t128000\t" in result.stdout
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert "\x1b" not in result.stdout
    assert not any(line.startswith("provider") for line in lines)  # no header


def test_an_unknown_provider_is_a_usage_error_listing_the_known_ones() -> None:
    result = invoke("--provider", "nosuch")
    assert result.exit_code == USAGE
    assert "no provider 'nosuch'" in result.stderr
    assert "anthropic" in result.stderr


def test_ollama_has_no_table_but_says_what_to_do() -> None:
    result = invoke("--provider", "ollama")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "ollama:MODEL" in result.stderr
    assert rows("--provider", "ollama") == []


def test_nothing_matching_says_so() -> None:
    result = invoke("no-such-model-anywhere")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no models match" in result.stderr
