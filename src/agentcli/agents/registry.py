"""The one table of model providers: every fact about a provider that more than one part of
agentcli needs (its spec prefix, SDK, extra, variables, example model, display name).

The factory resolves ``provider:MODEL`` specs with it, ``agentcli agents`` lists it, the REPL
completes specs from it and the offline echo agent names its variables. Nothing here imports an
SDK; adding a provider that speaks an existing wire format is one more row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..config import OLLAMA_DEFAULT_BASE_URL

if TYPE_CHECKING:
    from pydantic import SecretStr

    from ..config import Settings

__all__ = [
    "PROVIDERS",
    "ProviderInfo",
    "WireName",
    "example_specs",
    "get_provider",
    "keyed_providers",
    "provider_for_model",
]

WireName = Literal["openai", "anthropic"]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What agentcli knows about one provider.

    ``key_variable`` is ``None`` for a server that needs no key (the SDK still wants one, so
    ``placeholder_key`` is sent). ``key_setting`` and ``base_url_setting`` name the
    ``Settings`` fields those variables fill.
    """

    prefix: str
    display_name: str
    description: str
    wire: WireName
    sdk_module: str
    extra: str
    key_variable: str | None
    key_setting: str | None
    base_url_variable: str
    base_url_setting: str
    example_model: str
    default_base_url: str | None = None
    placeholder_key: str | None = None
    unreachable_hint: str | None = None  # what to check when nothing answers
    model_prefixes: tuple[str, ...] = ()  # a bare DEFAULT_MODEL with one of these picks us

    @property
    def example_spec(self) -> str:
        return f"{self.prefix}:{self.example_model}"

    def key(self, settings: Settings) -> SecretStr | None:
        """The key in ``settings`` (``None`` when unset or when none is needed)."""
        if self.key_setting is None:
            return None
        value: SecretStr | None = getattr(settings, self.key_setting)
        return value

    def base_url(self, settings: Settings) -> str | None:
        """The base URL in ``settings`` (``None``: the SDK's own default)."""
        value: str | None = getattr(settings, self.base_url_setting)
        return value or self.default_base_url


OPENAI = ProviderInfo(
    prefix="openai",
    display_name="OpenAI",
    description="OpenAI models",
    wire="openai",
    sdk_module="openai",
    extra="openai",
    key_variable="OPENAI_API_KEY",
    key_setting="openai_api_key",
    base_url_variable="OPENAI_BASE_URL",
    base_url_setting="openai_base_url",
    example_model="gpt-4o-mini",
)
ANTHROPIC = ProviderInfo(
    prefix="anthropic",
    display_name="Anthropic",
    description="Anthropic models",
    wire="anthropic",
    sdk_module="anthropic",
    extra="anthropic",
    key_variable="ANTHROPIC_API_KEY",
    key_setting="anthropic_api_key",
    base_url_variable="ANTHROPIC_BASE_URL",
    base_url_setting="anthropic_base_url",
    example_model="claude-haiku-4-5",
    model_prefixes=("claude",),
)
OLLAMA = ProviderInfo(
    prefix="ollama",
    display_name="Ollama",
    description="any OpenAI-compatible server (Ollama, vLLM ...)",
    wire="openai",
    sdk_module="openai",
    extra="openai",
    key_variable=None,
    key_setting=None,
    base_url_variable="AGENTCLI_OLLAMA_BASE_URL",
    base_url_setting="ollama_base_url",
    example_model="llama3.2",
    default_base_url=OLLAMA_DEFAULT_BASE_URL,
    placeholder_key="ollama",  # Ollama ignores the key, but the SDK requires one
    unreachable_hint="is `ollama serve` running? (AGENTCLI_OLLAMA_BASE_URL)",
)

PROVIDERS: Mapping[str, ProviderInfo] = {p.prefix: p for p in (OPENAI, ANTHROPIC, OLLAMA)}
"""Every provider, by spec prefix, in the order they are listed to users."""

DEFAULT_PROVIDER = OPENAI  # what a bare DEFAULT_MODEL name means when no prefix matches


def get_provider(prefix: str) -> ProviderInfo | None:
    return PROVIDERS.get(prefix)


def provider_for_model(model: str) -> ProviderInfo:
    """The provider a bare model name (``DEFAULT_MODEL=claude-...``) belongs to."""
    for info in PROVIDERS.values():
        if info.model_prefixes and model.startswith(info.model_prefixes):
            return info
    return DEFAULT_PROVIDER


def keyed_providers() -> list[ProviderInfo]:
    """The providers that need a key of their own."""
    return [info for info in PROVIDERS.values() if info.key_variable is not None]


def example_specs() -> list[str]:
    """One ready-to-use spec per provider (``openai:gpt-4o-mini`` ...)."""
    return [info.example_spec for info in PROVIDERS.values()]
