"""Providers: the key, the base URL, the SDK client and its limits; nothing about wire formats.

A ``Provider`` makes its SDK client on first use, on the running event loop, and reuses it (its
connection pool) until ``aclose()``. The SDK module is imported then, off the event loop. The
key is read from settings and never shown: ``repr`` omits it and errors scrub it.

Retries belong to the SDK alone (``max_retries``). What agentcli adds is a cap on
``Retry-After``: on every error response, before the SDK would sleep, a wait longer than
``max_retry_after`` fails at once (429 and 5xx alike), saying when to retry.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..errors import AuthenticationError, MissingDependencyError
from ._faults import Failure, Faults, body_message, scrub, without_userinfo
from ._retry_after import RETRIED_STATUSES, retry_after_seconds, wait_too_long

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic
    from openai import AsyncOpenAI
    from pydantic import SecretStr

    from ..config import Settings
    from .registry import ProviderInfo

__all__ = ["AnthropicProvider", "Limits", "OpenAIProvider", "Provider", "SDKClient"]


class SDKClient(Protocol):
    """What a provider needs of an SDK client (``AsyncOpenAI``, ``AsyncAnthropic``)."""

    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=SDKClient)


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings a provider agent runs with (see ``Settings`` for their meaning)."""

    request_timeout: float
    max_retries: int
    max_retry_after: float
    stream_idle_timeout: float
    max_tool_rounds: int
    tool_timeout: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            max_retry_after=settings.max_retry_after,
            stream_idle_timeout=settings.stream_idle_timeout,
            max_tool_rounds=settings.max_tool_rounds,
            tool_timeout=settings.tool_timeout,
        )


class Provider(ABC, Generic[ClientT]):
    """One provider's endpoint and credentials, and the SDK client that talks to it."""

    def __init__(
        self,
        info: ProviderInfo,
        settings: Settings,
        *,
        api_key: SecretStr | None = None,
        base_url: str | None = None,
    ) -> None:
        """``api_key`` and ``base_url`` override what ``settings`` hold for ``info``."""
        from pydantic import SecretStr

        self.info = info
        self.limits = Limits.from_settings(settings)
        self.base_url = base_url if base_url is not None else info.base_url(settings)
        if api_key is None and info.placeholder_key is not None:
            api_key = SecretStr(info.placeholder_key)
        self._key = api_key if api_key is not None else info.key(settings)
        self._client: ClientT | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def secret(self) -> SecretStr | None:
        """The key to keep out of messages (``None`` for a placeholder such as Ollama's, which
        is a common word, not a secret)."""
        key = self._key
        if key is None or key.get_secret_value() == self.info.placeholder_key:
            return None
        return key

    def faults(self, model: str, classify: Callable[[BaseException], Failure | None]) -> Faults:
        """How errors of ``model`` at this provider are worded; ``classify`` reads the SDK's."""
        info = self.info
        return Faults(
            provider=info.prefix,
            display_name=info.display_name,
            model=model,
            key_variable=info.key_variable or info.base_url_variable,
            base_url_variable=info.base_url_variable,
            base_url=self.base_url,
            request_timeout=self.limits.request_timeout,
            stream_idle_timeout=self.limits.stream_idle_timeout,
            classify=classify,
            unreachable_hint=info.unreachable_hint,
            secret=self.secret,
        )

    async def client(self) -> ClientT:
        """The SDK client for the running loop, made (and the SDK imported) on first use."""
        loop = asyncio.get_running_loop()
        if self._client is not None and self._client_loop is loop:
            return self._client
        await self._import_sdk()
        # Another turn may have made it while the SDK was imported.
        if self._client is None or self._client_loop is not loop:
            # A pooled connection belongs to the loop that opened it; a new loop needs a new
            # client (the old one cannot be closed from here and is left to the collector).
            self._client = self._create_client(self._key_text(), self.limits)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client and its connections (call it on the loop that used them)."""
        client, self._client = self._client, None
        loop, self._client_loop = self._client_loop, None
        # A client from a loop that has ended cannot be closed from this one.
        if client is not None and loop is asyncio.get_running_loop():
            await client.close()

    def __repr__(self) -> str:
        where = f", base_url={without_userinfo(self.base_url)!r}" if self.base_url else ""
        return f"{type(self).__name__}({self.info.prefix!r}{where})"

    async def _import_sdk(self) -> None:
        module = self.info.sdk_module
        if sys.modules.get(module) is not None:
            return
        # Importing an SDK takes 0.7-1.8 s: do it off the event loop, so a server's other
        # sessions keep moving while the first turn of this agent starts.
        try:
            await asyncio.to_thread(importlib.import_module, module)
        except ImportError as exc:
            raise MissingDependencyError(f"the {self.info.prefix} agent", self.info.extra) from exc

    def _key_text(self) -> str:
        key = self._key.get_secret_value() if self._key is not None else ""
        if not key:
            raise AuthenticationError(
                f"no API key for {self.info.display_name}: set {self.info.key_variable} in the "
                "environment or in .env",
                provider=self.info.prefix,
            )
        return key

    @abstractmethod
    def _create_client(self, api_key: str, limits: Limits) -> ClientT:
        """Make the SDK client: timeout, retries, and the Retry-After cap on every response."""

    async def _check_retry_after(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Fail at once when the server asks to wait longer than ``max_retry_after``.

        Called on every error response, before the SDK would sleep; ``body`` is the error body.
        Statuses the SDKs do not retry are left alone (their Retry-After is not obeyed).
        """
        if status not in RETRIED_STATUSES and status < 500:
            return
        wait = retry_after_seconds(headers)
        cap = self.limits.max_retry_after
        if wait is None or wait <= cap:
            return
        secret = self.secret.get_secret_value() if self.secret is not None else None
        detail = scrub(body_message(body), secret)
        raise wait_too_long(self.info, status, wait, cap, detail)


class OpenAIProvider(Provider["AsyncOpenAI"]):
    """OpenAI and servers that speak its API (Ollama, vLLM, LM Studio).

    The cap on ``Retry-After`` is an httpx2 response hook on the SDK's own default client
    (``openai.DefaultAsyncHttpxClient``): it runs on every attempt before the SDK decides to
    sleep, and an exception it raises leaves the SDK's retry loop unretried.
    """

    def _create_client(self, api_key: str, limits: Limits) -> AsyncOpenAI:
        import openai

        http_client = openai.DefaultAsyncHttpxClient(event_hooks={"response": [self._on_response]})
        return openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.base_url,
            timeout=limits.request_timeout,
            max_retries=limits.max_retries,
            http_client=http_client,
        )

    async def _on_response(self, response: httpx2.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        await self._check_retry_after(response.status_code, response.headers, response.content)


class AnthropicProvider(Provider["AsyncAnthropic"]):
    """Anthropic's Messages API.

    The cap on ``Retry-After`` is SDK middleware: it runs inside the SDK's retry loop on every
    attempt and sees each error response before the SDK sleeps; an exception it raises reaches
    the caller unretried (the SDK documents both).
    """

    def _create_client(self, api_key: str, limits: Limits) -> AsyncAnthropic:
        import anthropic

        return anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=self.base_url,
            timeout=limits.request_timeout,
            max_retries=limits.max_retries,
            middleware=[self._cap_retry_after],
        )

    async def _cap_retry_after(self, request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        http = response.http_response
        if http.status_code >= 400:
            await http.aread()
            await self._check_retry_after(http.status_code, http.headers, http.content)
        return response
