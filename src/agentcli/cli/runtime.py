"""What every command needs: settings, the store, session ids, the agent and the manager."""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InvalidInputError, SessionNotFoundError

if TYPE_CHECKING:
    from ..agent import AgentInterface
    from ..config import Settings
    from ..session import SessionManager
    from ..stores.base import SessionInfo, SessionStore

__all__ = [
    "build_agent",
    "build_manager",
    "choose_spec",
    "find_session",
    "load_cli_settings",
    "new_session_id",
    "open_cli_store",
    "resolve_session",
    "uses_tools",
]


def mcp_ignored(spec: str) -> str:
    """Why ``--mcp`` did nothing for ``spec`` (the provider prefixes come from the registry)."""
    from ..agents.registry import PROVIDERS

    prefixes = ", ".join(f"{prefix}:" for prefix in PROVIDERS)
    return f"--mcp is for provider agents ({prefixes}); {spec} takes no tools"


MEMORY_URL = "memory://"
_HEX_PREFIX = re.compile("[0-9a-f]{4,11}")


def load_cli_settings() -> Settings:
    """Settings from the environment and ``./.env``, with logging set up from them."""
    from ..config import load_settings
    from ..logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, stream=sys.stderr)
    return settings


def open_cli_store(settings: Settings, *, ephemeral: bool | None = None) -> SessionStore:
    """The configured store (a SQLite file in the data directory by default). A SQLite file
    that cannot be written fails here, naming the fix (``ephemeral`` is ``None`` for commands
    without ``--ephemeral``)."""
    from ..stores import open_store

    url = MEMORY_URL if ephemeral else settings.resolved_store_url
    if url.startswith("sqlite:"):
        from .privacy import sqlite_file, warn_if_not_private
        from .store_check import check_store_writable

        database = sqlite_file(settings)
        if database is not None:
            check_store_writable(settings, database, ephemeral=ephemeral)
        warn_if_not_private(settings)
    return open_store(url, session_ttl=settings.session_ttl, pool_size=settings.store_pool_size)


def choose_spec(spec: str | None, settings: Settings) -> tuple[str, bool]:
    """The agent spec to use and whether it is the offline fallback (nothing configured).

    An unknown spec, a missing SDK or an unset key fails here, before anything is shown."""
    from ..agents.factory import check_spec, default_spec

    chosen = spec or default_spec(settings)
    try:
        check_spec(chosen, settings)
    except ConfigError as exc:
        if spec is None:  # say where the spec came from: nobody typed it
            raise ConfigError(f"DEFAULT_MODEL={settings.default_model}: {exc}") from None
        raise
    return chosen, spec is None and chosen == "echo"


def uses_tools(spec: str) -> bool:
    """Whether the spec names a provider agent (the agents that take MCP tools)."""
    from ..agents.factory import PROVIDERS, parse_spec

    return parse_spec(spec).kind in PROVIDERS


def build_agent(spec: str, settings: Settings, mcp: list[Any] | None = None) -> AgentInterface:
    """The agent a spec names; ``mcp`` holds open MCP toolsets (only provider agents take them)."""
    from ..agents.factory import create_agent

    options: dict[str, Any] = {"mcp": list(mcp)} if mcp else {}
    return create_agent(spec, settings, **options)


def build_manager(
    agent: AgentInterface, store: SessionStore, settings: Settings, system: str | None = None
) -> SessionManager:
    from ..session import SessionManager

    return SessionManager.from_settings(agent, settings, store=store, system_prompt=system)


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


async def find_session(store: SessionStore, wanted: str) -> SessionInfo:
    """The session ``wanted`` names exactly, or the only one whose id starts with it."""
    from ..stores.base import validate_session_id

    info = await store.info(validate_session_id(wanted))
    return info if info is not None else await _only_match(store, wanted)


async def _only_match(store: SessionStore, prefix: str) -> SessionInfo:
    matches = [s for s in await store.list_sessions() if s.id.startswith(prefix)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(s.id for s in matches[:5])
        raise InvalidInputError(f"{prefix!r} matches {len(matches)} sessions ({shown}); be longer")
    raise SessionNotFoundError(prefix)


async def resolve_session(
    store: SessionStore, session: str | None, cont: bool
) -> tuple[str, SessionInfo | None]:
    """The session to use: ``--session ID`` (an unknown id starts a session with that id),
    ``--continue`` (the most recent), or a new one."""
    if session is not None and cont:
        raise InvalidInputError("use either --session or --continue, not both")
    if session is not None:
        from ..stores.base import validate_session_id

        info = await store.info(validate_session_id(session))
        if info is None and _HEX_PREFIX.fullmatch(session):
            # A short form of a generated id; a name of your own is never taken as a prefix.
            with contextlib.suppress(SessionNotFoundError):
                info = await _only_match(store, session)
        return (info.id, info) if info is not None else (session, None)
    if cont:
        recent = await store.list_sessions(limit=1)
        if recent:
            return recent[0].id, recent[0]
    return new_session_id(), None
