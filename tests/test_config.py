"""Settings: environment, then .env, then defaults; clear errors; secrets redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentcli.config import load_settings
from agentcli.errors import ConfigError


def test_defaults_are_the_specifications(tmp_path: Path) -> None:
    settings = load_settings(env_file=None)
    assert settings.cleanup_threshold == 0.90
    assert settings.cleanup_target == 0.60
    assert settings.min_messages_to_keep == 5
    assert settings.max_retries == 3
    assert settings.request_timeout == 30
    assert settings.data_dir == tmp_path / "agentcli-data"  # from the test's environment
    assert settings.resolved_store_url.startswith("sqlite:///")


def test_specification_names_work_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("DEFAULT_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = load_settings(env_file=None)
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-from-env"
    assert settings.default_model == "gpt-4o-mini"
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DEFAULT_MODEL=from-file\nAGENTCLI_MAX_INPUT_CHARS=50\n")
    monkeypatch.setenv("DEFAULT_MODEL", "from-env")
    settings = load_settings(env_file=env_file)
    assert settings.default_model == "from-env"
    assert settings.max_input_chars == 50


def test_malformed_dotenv_names_the_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nGOOD=1\nthis line is broken\n")
    with pytest.raises(ConfigError, match=r"line 3 .*this line is broken"):
        load_settings(env_file=env_file)


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_CONTEXT_WINDOW", "lots")
    with pytest.raises(ConfigError, match="AGENTCLI_CONTEXT_WINDOW"):
        load_settings(env_file=None)


def test_target_must_be_below_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_CLEANUP_TARGET", "0.95")
    with pytest.raises(ConfigError, match="AGENTCLI_CLEANUP_TARGET"):
        load_settings(env_file=None)


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "sk-canary-7f3e9a"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("ANTHROPIC_API_KEY", canary)
    monkeypatch.setenv("AGENTCLI_STORE_URL", f"postgresql://me:{canary}@127.0.0.1/db")
    settings = load_settings(env_file=None)
    for text in (repr(settings), str(settings), str(settings.redacted())):
        assert canary not in text
    assert settings.redacted()["openai_api_key"] == "********** (set)"
