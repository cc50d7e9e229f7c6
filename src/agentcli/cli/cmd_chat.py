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
    files: list[str] | None = None,
    saved_prompt: str | None = None,
    request_options: list[str] | None = None,
    markdown: bool | None = None,
) -> None:
    from .attachments import read_attachment
    from .cmd_prompts import system_prompt_from
    from .request_flags import request_changes

    settings = load_cli_settings()
    attachments = [read_attachment(name) for name in files or []]  # refused: exit 2 now
    system = system_prompt_from(system, saved_prompt, settings)
    spec, fallback = choose_spec(agent, settings)
    changes = request_changes(request_options, spec)
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
        files=attachments,
        request_options=changes,
        markdown=markdown,
    )
    repl = Repl(settings, store, options)
    try:
        asyncio.run(repl.run())
    except BaseException:
        if repl.stop.received is None:
            raise
    if repl.stop.received is not None:
        repl.stop.exit()  # the turn's answer is stored, marked interrupted if it was cut
