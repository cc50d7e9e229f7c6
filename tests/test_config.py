"""Settings: environment, then .env, then defaults; clear errors; secrets redacted."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import pytest
from pydantic import SecretStr

from agentcli.config import Settings, load_settings
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


def test_malformed_dotenv_names_the_line_not_its_text(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nGOOD=1\nthis line is broken\n")
    with pytest.raises(ConfigError, match=r"line 3 ") as caught:
        load_settings(env_file=env_file)
    assert "broken" not in str(caught.value)


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
    # AGENTCLI_REDIS_URL must be a Redis URL: the PostgreSQL forms go to the store only.
    redis_url = url if url.startswith("redis") else "redis://:{secret}@127.0.0.1:6379/0"
    monkeypatch.setenv("AGENTCLI_REDIS_URL", redis_url.format(secret=secret))
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


# ---------------------------------------------------------------------- secrets from files

SECRET_VARIABLES = {
    "openai_api_key": "OPENAI_API_KEY",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "store_url": "AGENTCLI_STORE_URL",
    "store_password": "AGENTCLI_STORE_PASSWORD",
    "redis_url": "AGENTCLI_REDIS_URL",
    "sentry_dsn": "SENTRY_DSN",
}
CANARY = "canary-0b6f2c9e"


def secret_value(settings: Settings, field: str) -> str:
    value = getattr(settings, field)
    assert isinstance(value, SecretStr)
    return value.get_secret_value()


def test_every_secret_setting_has_a_file_variable() -> None:
    from agentcli.config import SECRET_FILE_VARIABLES

    secrets = {
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is not None and "SecretStr" in str(field.annotation)
    }
    # AGENTCLI_API_KEYS_FILE predates the rule: a list of keys the server reads (server/auth.py).
    assert secrets - {"api_keys"} == set(SECRET_FILE_VARIABLES) == set(SECRET_VARIABLES)
    assert SECRET_FILE_VARIABLES == SECRET_VARIABLES


@pytest.mark.parametrize(("field", "variable"), SECRET_VARIABLES.items())
def test_a_secret_comes_from_the_file_its_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, variable: str
) -> None:
    value = f"redis://:{CANARY}@127.0.0.1:6379/0" if field.endswith("_url") else CANARY
    if field == "sentry_dsn":  # a DSN is a URL too: the key is its user name
        value = f"https://{CANARY}@127.0.0.1/1"
    path = tmp_path / "secret"
    path.write_text(value + "\n")
    monkeypatch.setenv(f"{variable}_FILE", str(path))
    settings = load_settings(env_file=None)
    assert secret_value(settings, field) == value
    # Shown only as set, like any secret (what `agentcli config` prints).
    for text in (repr(settings), str(settings), str(settings.redacted())):
        assert CANARY not in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret\n", "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"s3cret", "s3cret"),
        (b"s3cret\n\n", "s3cret\n"),  # one newline only, as the file has it otherwise
        (b" s3cret \n", " s3cret "),  # spaces are the secret's own
        (b"", ""),
        ("pässwörd\n".encode(), "pässwörd"),
    ],
)
def test_one_trailing_newline_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, expected: str
) -> None:
    path = tmp_path / "key"
    path.write_bytes(content)
    monkeypatch.setenv("ANTHROPIC_API_KEY_FILE", str(path))
    assert secret_value(load_settings(env_file=None), "anthropic_api_key") == expected


def test_dotenv_may_name_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "openai-key"
    key_file.write_text("sk-from-a-file\n")
    env_file = tmp_path / ".env"
    env_file.write_text(f"OPENAI_API_KEY_FILE={key_file}\nDEFAULT_MODEL=gpt-4o-mini\n")
    settings = load_settings(env_file=env_file)
    assert secret_value(settings, "openai_api_key") == "sk-from-a-file"
    assert settings.default_model == "gpt-4o-mini"


def test_an_empty_file_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-direct")
    monkeypatch.setenv("OPENAI_API_KEY_FILE", "")
    assert secret_value(load_settings(env_file=None), "openai_api_key") == "sk-direct"


@pytest.mark.parametrize("where", ["environment", "dotenv", "both places"])
def test_a_value_and_a_file_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = tmp_path / "key"
    path.write_text("from-file\n")
    env_file = tmp_path / ".env"
    lines = []
    if where == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", CANARY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(path))
    elif where == "dotenv":
        lines = [f"OPENAI_API_KEY={CANARY}", f"OPENAI_API_KEY_FILE={path}"]
    else:
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(path))
        lines = [f"OPENAI_API_KEY={CANARY}"]
    env_file.write_text("".join(line + "\n" for line in lines))
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=env_file)
    message = str(caught.value)
    assert "OPENAI_API_KEY and OPENAI_API_KEY_FILE" in message
    assert CANARY not in message
    assert "from-file" not in message


def _unreadable(tmp_path: Path) -> list[tuple[Path, str]]:
    """Paths that cannot be read, each with what the error says about it."""
    directory = tmp_path / "a-directory"
    directory.mkdir()
    too_large = tmp_path / "too-large"
    too_large.write_bytes((CANARY * 7000).encode()[: 64 * 1024 + 1])
    not_text = tmp_path / "not-text"
    not_text.write_bytes(b"\xff\xfe" + CANARY.encode())
    under_a_file = not_text / "secret"
    cases = [
        (tmp_path / "missing", "No such file or directory"),
        (directory, "is a directory"),
        (too_large, "larger than 64 KiB"),
        (not_text, "not UTF-8 text"),
        (under_a_file, "Not a directory"),
    ]
    if os.geteuid() != 0:  # root reads any file whatever its mode
        no_access = tmp_path / "no-access"
        no_access.write_text(CANARY)
        no_access.chmod(0)
        cases.append((no_access, "Permission denied"))
    return cases


@pytest.mark.parametrize("variable", SECRET_VARIABLES.values())
def test_a_file_that_cannot_be_read_is_named_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for path, reason in _unreadable(tmp_path):
        monkeypatch.setenv(f"{variable}_FILE", str(path))
        with pytest.raises(ConfigError) as caught:
            load_settings(env_file=None)
        message = str(caught.value)
        assert f"{variable}_FILE" in message
        assert str(path) in message
        assert reason in message
        assert CANARY not in message
        shown = "".join(traceback.format_exception(caught.value))  # with what it chains
        assert CANARY not in shown


def test_a_file_of_exactly_64_kib_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"k" * (64 * 1024))
    monkeypatch.setenv("AGENTCLI_STORE_PASSWORD_FILE", str(path))
    assert len(secret_value(load_settings(env_file=None), "store_password")) == 64 * 1024


def test_the_api_keys_file_is_still_a_list_the_server_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentcli.server.auth import KeyRing

    keys = tmp_path / "keys"
    keys.write_text("# clients\nkey-one-0123456789abcdef\nkey-two-0123456789abcdef\n")
    monkeypatch.setenv("AGENTCLI_API_KEYS", "key-three-0123456789abcdef")
    monkeypatch.setenv("AGENTCLI_API_KEYS_FILE", str(keys))
    settings = load_settings(env_file=None)
    assert settings.api_keys_file == keys
    assert len(KeyRing.from_settings(settings)) == 3


# ---------------------------------------------------------------------- the store password


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://agent@db.internal:5432/sessions?sslmode=require",
            "postgresql://agent:{quoted}@db.internal:5432/sessions?sslmode=require",
        ),
        ("postgres://db.internal/sessions", "postgres://:{quoted}@db.internal/sessions"),
        ("redis://redis.internal:6379/0", "redis://:{quoted}@redis.internal:6379/0"),
        (
            "rediss://default@redis.internal:6380/0",
            "rediss://default:{quoted}@redis.internal:6380/0",
        ),
    ],
)
def test_the_store_password_goes_into_a_url_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    password = f"p@ss:w/rd%{CANARY}?#"
    quoted = f"p%40ss%3Aw%2Frd%25{CANARY}%3F%23"
    secret = tmp_path / "password"
    secret.write_text(password + "\n")
    monkeypatch.setenv("AGENTCLI_STORE_URL", url)  # a ConfigMap
    monkeypatch.setenv("AGENTCLI_STORE_PASSWORD_FILE", str(secret))  # a Secret
    settings = load_settings(env_file=None)
    assert settings.resolved_store_url == expected.format(quoted=quoted)
    redacted = settings.redacted()
    assert redacted["store_password"] == "********** (set)"
    assert "****@" in redacted["store_url"]
    for text in (repr(settings), str(settings), str(redacted)):
        assert CANARY not in text


def test_the_password_reaches_the_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import unquote, urlsplit

    monkeypatch.setenv("AGENTCLI_STORE_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("AGENTCLI_STORE_PASSWORD", "a b@c:d/e%f")
    url = load_settings(env_file=None).resolved_store_url
    assert unquote(urlsplit(url).password or "") == "a b@c:d/e%f"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://agent:own@db.internal/sessions",
        "redis://:own@redis.internal:6379/0",
        "postgresql://db.internal/sessions?password=own",
        "sqlite:////var/lib/agentcli/sessions.db",
        "memory://",
    ],
)
def test_a_url_with_its_own_password_or_no_server_is_kept(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("AGENTCLI_STORE_URL", url)
    monkeypatch.setenv("AGENTCLI_STORE_PASSWORD", CANARY)
    assert load_settings(env_file=None).resolved_store_url == url


def test_the_store_url_itself_may_come_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "url"
    secret.write_text("postgresql://agent@db.internal/sessions\r\n")
    monkeypatch.setenv("AGENTCLI_STORE_URL_FILE", str(secret))
    monkeypatch.setenv("AGENTCLI_STORE_PASSWORD", "pw")
    settings = load_settings(env_file=None)
    assert settings.resolved_store_url == "postgresql://agent:pw@db.internal/sessions"
