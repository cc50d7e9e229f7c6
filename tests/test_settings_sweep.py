"""Every setting, tried with nonsense: each is refused with one line naming its variable, and
never by an unexpected exception. The list comes from ``Settings.model_fields``, so a new
setting is covered (or this test asks what kind of value it takes)."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from agentcli.config import Settings, load_settings
from agentcli.errors import ConfigError

CANARY = "sk-canary-3d9e1f"
# Settings whose value is free text (a key, a name): nothing is nonsense.
FREE_TEXT = {
    "openai_api_key",
    "anthropic_api_key",
    "store_password",
    "api_keys",
    "default_model",
    "sentry_environment",
    "otel_service_name",
}
HTTP_URLS = {"openai_base_url", "anthropic_base_url", "ollama_base_url", "otel_endpoint"}
NUMBERS = ["abc", "", "-1", "1e400", "-1e400", "nan", "inf", "1e30", "1" + "0" * 40]
NONSENSE_BY_FIELD: dict[str, list[str]] = {
    "store_url": [
        "abc",
        CANARY,
        "nosuch://x",
        "sqlite:///x.db?timeout=1e400",
        "sqlite:///x.db?timeout=-1",
        "sqlite:///x.db?bogus=1",
    ],
    "redis_url": [CANARY, "http://127.0.0.1:6379", "redis://127.0.0.1/0?socket_timeout=nan"],
    "sentry_dsn": [CANARY, "ftp://key@host/1", "https://"],
    "summary_agent": ["nosuch", "openai:", "a b:c"],
}


def variable(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return alias if isinstance(alias, str) else f"AGENTCLI_{name.upper()}"


def base_type(annotation: Any) -> Any:
    """``int`` for ``int | None``; the annotation itself otherwise."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else annotation
    return annotation


def nonsense(name: str, field: FieldInfo) -> list[str]:
    kind = base_type(field.annotation)
    if name in NONSENSE_BY_FIELD:
        return NONSENSE_BY_FIELD[name]
    if name in HTTP_URLS:
        return ["abc", "ftp://host/v1", "http://", "http://[::1"]
    if kind is bool:
        return ["abc", "2", ""]
    if kind in (int, float):
        return NUMBERS
    if typing.get_origin(kind) is Literal:
        return ["abc", ""]
    if kind is Path:
        return ["", "  ", "~no-such-user-agentcli/x"]
    if typing.get_origin(kind) is list:
        return ["not json", '{"a": 1}', "[1, 2]", "nan"]
    assert name in FREE_TEXT, f"new setting {name}: say which values it refuses (above)"
    return []


CASES = [
    pytest.param(variable(name, field), value, id=f"{name}={value[:30]!r}")
    for name, field in Settings.model_fields.items()
    for value in nonsense(name, field)
]


@pytest.mark.parametrize(("env", "value"), CASES)
def test_nonsense_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert env in message
    assert "\n" not in message
    assert "AGENTCLI_SETTINGS" not in message
    assert CANARY not in message


@pytest.mark.parametrize("name", sorted(FREE_TEXT))
def test_free_text_settings_take_any_text(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(variable(name, Settings.model_fields[name]), CANARY)
    value = getattr(load_settings(env_file=None), name)
    assert (value.get_secret_value() if isinstance(value, SecretStr) else value) == CANARY


@pytest.mark.parametrize("name", sorted(HTTP_URLS | {"sentry_dsn", "store_url", "redis_url"}))
def test_an_empty_url_counts_as_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(variable(name, Settings.model_fields[name]), "")
    value = getattr(load_settings(env_file=None), name)
    if isinstance(value, SecretStr):
        assert value.get_secret_value() == ""
    else:
        assert value == Settings.model_fields[name].default


def test_a_list_setting_may_be_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_MCP_SERVERS", "")
    monkeypatch.setenv("AGENTCLI_CORS_ORIGINS", '["https://a.example"]')
    settings = load_settings(env_file=None)
    assert settings.mcp_servers == []
    assert settings.cors_origins == ["https://a.example"]


def test_a_list_item_of_the_wrong_type_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_MCP_SERVERS", '["python server.py", 2]')
    with pytest.raises(ConfigError, match=r"AGENTCLI_MCP_SERVERS \(item 2\)"):
        load_settings(env_file=None)


def test_the_data_dir_has_its_tilde_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_DATA_DIR", "~/agentcli-here")
    assert load_settings(env_file=None).data_dir == Path.home() / "agentcli-here"


def test_an_alias_is_named_with_its_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "abc")
    with pytest.raises(ConfigError, match=r"AGENTCLI_OLLAMA_BASE_URL \(or OLLAMA_BASE_URL\)"):
        load_settings(env_file=None)
