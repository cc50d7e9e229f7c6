"""``agentcli run``: one prompt, one answer, an exit code scripts can rely on."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from rich.text import Text

from . import render
from .console import err_console, out_console
from .exits import AGENT_ERROR, USAGE, CLIExit, print_error
from .runtime import (
    build_agent,
    build_manager,
    choose_spec,
    load_cli_settings,
    mcp_ignored,
    open_cli_store,
    resolve_session,
    uses_tools,
)

if TYPE_CHECKING:
    from ..config import Settings
    from ..messages import AgentResponse
    from ..stores.base import SessionStore

__all__ = ["read_prompt", "run_command"]


def read_prompt(prompt: str | None) -> str:
    """The argument, then piped standard input after a blank line (either alone is fine)."""
    piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read().rstrip("\n")
    parts = [part for part in (prompt or "", piped) if part.strip()]
    if not parts:
        raise CLIExit(USAGE, "no prompt: give one as an argument or pipe text to standard input")
    return "\n\n".join(parts)


def run_command(
    *,
    prompt: str | None,
    agent: str | None,
    session: str | None,
    cont: bool,
    system: str | None,
    json_output: bool,
    ephemeral: bool,
    mcp: list[str],
) -> None:
    text = read_prompt(prompt)
    settings = load_cli_settings()
    spec, _ = choose_spec(agent, settings)
    store = open_cli_store(settings, ephemeral=ephemeral)
    response = asyncio.run(
        _run(
            settings,
            store,
            spec,
            text,
            session=session,
            cont=cont,
            system=system,
            mcp=mcp,
            json_output=json_output,
        )
    )
    if response.is_error:
        raise CLIExit(AGENT_ERROR)


async def _run(
    settings: Settings,
    store: SessionStore,
    spec: str,
    text: str,
    *,
    session: str | None,
    cont: bool,
    system: str | None,
    mcp: list[str],
    json_output: bool,
) -> AgentResponse:
    from .mcp_tools import ToolsetKeeper, mcp_specs
    from .stream_view import Mode, TurnView
    from .turn import run_turn

    tools = ToolsetKeeper(mcp_specs(settings, mcp))
    sources: list[Any] = []
    try:
        session_id, _ = await resolve_session(store, session, cont)
        if uses_tools(spec):
            sources = await tools.sources()
        elif tools.specs:
            err_console().print(Text(mcp_ignored(spec), style="yellow"))
        manager = build_manager(build_agent(spec, settings, sources), store, settings)
        try:
            if system is not None:
                await manager.set_system_prompt(session_id, system)
            console = out_console()
            mode: Mode = "silent" if json_output else ("live" if console.is_terminal else "plain")
            view = TurnView(console, mode, markdown=console.is_terminal, err_console=err_console())
            response = await run_turn(manager, session_id, text, view)
        finally:
            await manager.agent.aclose()
    finally:
        await tools.close()
        await store.close()
    _report(response, session_id, json_output)
    return response


def _report(response: AgentResponse, session_id: str, json_output: bool) -> None:
    if response.error is not None:
        print_error(f"the agent reported an error: {response.error}")
    if json_output:
        print(json.dumps({"session_id": session_id, **response.model_dump(mode="json")}))
        return
    err = err_console()
    if not err.is_terminal:
        return
    for line in render.cleanup_lines(response.cleanup):
        err.print(line)
    if response.context is not None:
        line = render.turn_line(response.context, response)
        err.print(line.append(f" · session {session_id}", style="dim"))
    else:
        err.print(Text(f"session {session_id}", style="dim"))
