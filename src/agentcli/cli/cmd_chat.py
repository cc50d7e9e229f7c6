"""``agentcli chat``: set up, then hand over to the REPL."""

from __future__ import annotations

import asyncio

from .mcp_tools import mcp_specs
from .repl import ChatOptions, Repl
from .runtime import choose_spec, load_cli_settings, open_cli_store

__all__ = ["chat_command"]


def chat_command(
    *,
    agent: str | None,
    session: str | None,
    cont: bool,
    system: str | None,
    stream: bool,
    ephemeral: bool,
    mcp: list[str],
) -> None:
    settings = load_cli_settings()
    spec, fallback = choose_spec(agent, settings)
    mcp = mcp_specs(settings, mcp)
    store = open_cli_store(settings, ephemeral=ephemeral)
    options = ChatOptions(
        spec=spec,
        fallback=fallback,
        session=session,
        cont=cont,
        system=system,
        stream=stream,
        ephemeral=ephemeral,
        mcp=mcp,
    )
    repl = Repl(settings, store, options)
    try:
        asyncio.run(repl.run())
    except BaseException:
        if repl.stop.received is None:
            raise
    if repl.stop.received is not None:
        repl.stop.exit()  # the turn's answer is stored, marked interrupted if it was cut
