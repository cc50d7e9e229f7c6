"""Resolve an agent spec string to an agent, importing provider SDKs only when asked.

Specs: ``echo``; ``PROVIDER:MODEL`` for each provider of the registry (``openai:``,
``anthropic:``, ``ollama:`` for any OpenAI-compatible server); ``package.module:Class``;
``path/to/file.py:Class`` (a user's ``AgentInterface``).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agent import AgentInterface
from ..errors import ConfigError, MissingDependencyError
from .registry import PROVIDERS, ProviderInfo, provider_for_model

if TYPE_CHECKING:
    from ..config import Settings
    from .provider_agent import ProviderAgent

__all__ = ["PROVIDERS", "AgentSpec", "check_spec", "create_agent", "default_spec", "parse_spec"]

BUILTIN = ("echo",)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """A parsed spec: ``kind`` is a provider name, ``echo``, ``module`` or ``file``."""

    kind: str
    target: str
    text: str


def parse_spec(spec: str) -> AgentSpec:
    text = spec.strip()
    if not text:
        raise ConfigError("empty agent spec; try 'echo' or 'openai:gpt-4o-mini'")
    if text in BUILTIN:
        return AgentSpec(text, "", text)
    provider, _, model = text.partition(":")
    if provider in PROVIDERS:
        if not model:
            raise ConfigError(f"agent spec {text!r} names no model after ':'")
        return AgentSpec(provider, model, text)  # model names may contain ':' (ollama tags)
    head, sep, tail = text.rpartition(":")
    if not sep:
        close = difflib.get_close_matches(text, [*BUILTIN, *PROVIDERS], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        specs = ", ".join(f"{prefix}:MODEL" for prefix in PROVIDERS)
        raise ConfigError(
            f"unknown agent spec {text!r}: use echo, {specs}, package.module:Class or "
            f"path/to/file.py:Class.{hint}"
        )
    if not tail:
        raise ConfigError(f"agent spec {text!r} names no model or class after ':'")
    if head.endswith(".py"):
        return AgentSpec("file", f"{head}:{tail}", text)
    if all(part.isidentifier() for part in head.split(".")):
        if "." not in head and tail[:1].islower():
            close = difflib.get_close_matches(head, list(PROVIDERS), n=1)
            if close:
                raise ConfigError(
                    f"unknown provider {head!r} in {text!r}. Did you mean '{close[0]}:{tail}'?"
                )
        return AgentSpec("module", f"{head}:{tail}", text)
    raise ConfigError(f"cannot read agent spec {text!r}")


def default_spec(settings: Settings | None) -> str:
    """``DEFAULT_MODEL`` when set (a bare model name picks its provider), else ``echo``."""
    model = settings.default_model if settings else None
    if not model:
        return "echo"
    if ":" in model:
        return model
    return f"{provider_for_model(model).prefix}:{model}"


def check_spec(spec: str, settings: Settings) -> AgentSpec:
    """Fail now, naming what to install or set, if a provider spec cannot work: its SDK is
    not installed or its key is unset. Nothing is imported or contacted; the base URLs were
    checked when ``settings`` loaded."""
    parsed = parse_spec(spec)
    info = PROVIDERS.get(parsed.kind)
    if info is None:
        return parsed
    if importlib.util.find_spec(info.sdk_module) is None:
        raise MissingDependencyError(f"the {info.prefix} agent", info.extra)
    key = info.key(settings)
    if info.key_variable is not None and (key is None or not key.get_secret_value()):
        raise ConfigError(f"{parsed.text} needs an API key: {_key_hint(info)}")
    return parsed


def _key_hint(info: ProviderInfo) -> str:
    """What to set for ``info``'s key, and the keyless provider for a local server."""
    hint = f"set {info.key_variable} in the environment or in .env"
    local = [p for p in PROVIDERS.values() if p.key_variable is None and p.wire == info.wire]
    for other in local:
        hint += (
            f", or use {other.prefix}:MODEL for a local server that needs none "
            f"({other.base_url_variable})"
        )
    return hint


def create_agent(spec: str, settings: Settings | None = None, **options: Any) -> AgentInterface:
    """Build the agent a spec names. ``options`` go to provider agents (``tools``, ``mcp``,
    ``max_tokens``: by default ``AGENTCLI_MAX_OUTPUT_TOKENS``)."""
    parsed = parse_spec(spec)
    if parsed.kind == "echo":
        from .offline import EchoAgent

        return EchoAgent()
    if parsed.kind in PROVIDERS:
        return _provider_agent(parsed, settings, options)
    cls = _load_class(parsed)
    try:
        agent = cls()
    except TypeError as exc:
        raise ConfigError(
            f"cannot create {parsed.text}: {exc} (it must take no arguments)"
        ) from exc
    return agent


def _provider_agent(
    spec: AgentSpec, settings: Settings | None, options: dict[str, Any]
) -> AgentInterface:
    if settings is None:
        from ..config import load_settings

        settings = load_settings()
    info = PROVIDERS[spec.kind]
    if importlib.util.find_spec(info.sdk_module) is None:
        raise MissingDependencyError(f"the {info.prefix} agent", info.extra)
    return agent_class(info).from_settings(spec.target, settings, provider=info.prefix, **options)


def agent_class(info: ProviderInfo) -> type[ProviderAgent[Any]]:
    """The agent class that speaks ``info``'s wire format (imported now, not before)."""
    if info.wire == "anthropic":
        from .anthropic import AnthropicAgent

        return AnthropicAgent
    from .openai import OpenAIAgent

    return OpenAIAgent


def _load_class(spec: AgentSpec) -> type[AgentInterface]:
    location, _, class_name = spec.target.rpartition(":")
    if spec.kind == "file":
        path = Path(location).expanduser()
        if not path.is_file():
            raise ConfigError(f"agent file {str(path)!r} does not exist")
        module_name = f"_agentcli_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"cannot import {str(path)!r} as Python")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise ConfigError(
                f"importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as exc:
            raise ConfigError(f"cannot import module {location!r}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(class_name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{location!r} has no attribute {class_name!r}.{hint}")
    if not (isinstance(cls, type) and issubclass(cls, AgentInterface)):
        raise ConfigError(f"{spec.text} is not a subclass of agentcli.AgentInterface")
    return cls
