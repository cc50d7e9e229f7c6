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


@pytest.mark.parametrize(
    "url",
    [
        "redis://:{secret}@127.0.0.1:6379/0",
        "rediss://default:{secret}@127.0.0.1:6380/0",
        "postgresql://me:p@ss{secret}@127.0.0.1/db",  # an unescaped @ in the password
        "postgresql://127.0.0.1/db?sslmode=disable&password={secret}",
    ],
)
def test_store_and_redis_passwords_never_print(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    secret = "canary-5d1c"
    monkeypatch.setenv("AGENTCLI_STORE_URL", url.format(secret=secret))
    monkeypatch.setenv("AGENTCLI_REDIS_URL", url.format(secret=secret))
    settings = load_settings(env_file=None)
    redacted = settings.redacted()
    for text in (repr(settings), str(settings), str(redacted)):
        assert secret not in text
    assert "****" in redacted["store_url"]
    assert "****" in redacted["redis_url"]


def test_store_scaling_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(env_file=None)
    assert (settings.session_ttl, settings.store_pool_size, settings.redis_url) == (3600, 10, None)
    monkeypatch.setenv("AGENTCLI_SESSION_TTL", "0")
    monkeypatch.setenv("AGENTCLI_STORE_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="AGENTCLI_STORE_POOL_SIZE"):
        load_settings(env_file=None)


def test_driver_log_records_lose_their_passwords() -> None:
    import io
    import logging

    from agentcli._redact import redact_logger
    from agentcli.logs import configure_logging

    stream = io.StringIO()
    handler = configure_logging("WARNING", "text", stream=stream)
    try:
        logging.getLogger("agentcli.stores").warning("failed: %s", "redis://:hunter2@h:1/0")
        redact_logger("psycopg.pool")
        driver = logging.getLogger("psycopg.pool")
        records: list[logging.LogRecord] = []

        class Catcher(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record)

        catcher = Catcher()
        driver.addHandler(catcher)
        try:
            driver.warning("error connecting to %s", "postgresql://u:hunter2@db/x")
        finally:
            driver.removeHandler(catcher)
    finally:
        logging.getLogger("agentcli").removeHandler(handler)
    assert "hunter2" not in stream.getvalue()
    assert "redis://:****@h:1/0" in stream.getvalue()
    assert [r.getMessage() for r in records] == ["error connecting to postgresql://u:****@db/x"]
