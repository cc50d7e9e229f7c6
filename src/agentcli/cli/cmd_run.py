"""``agentcli run``: one prompt, one answer, an exit code scripts can rely on."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from rich.text import Text

from . import render
from .bounded_input import read_piped
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
from .stop_signals import StopSignals

if TYPE_CHECKING:
    from ..config import Settings
    from ..messages import AgentResponse
    from ..session import SessionManager
    from ..stores.base import SessionStore

__all__ = ["read_prompt", "run_command"]


def read_prompt(prompt: str | None, max_chars: int) -> str:
    """The argument, then piped standard input after a blank line (either alone is fine)."""
    piped = "" if sys.stdin is None or sys.stdin.isatty() else read_piped(sys.stdin, max_chars)
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
    settings = load_cli_settings()
    text = read_prompt(prompt, settings.max_input_chars)
    spec, _ = choose_spec(agent, settings)
    store = open_cli_store(settings, ephemeral=ephemeral)
    stop = StopSignals()
    turn = _run(
        settings,
        store,
        spec,
        text,
        session=session,
        cont=cont,
        system=system,
        mcp=mcp,
        json_output=json_output,
        stop=stop,
    )
    try:
        response = asyncio.run(turn)
    except BaseException:
        if stop.received is None:
            raise
        stop.exit()  # the partial answer is stored; the signal decides the exit code
    if stop.received is not None:
        stop.exit()  # it came as the turn ended: the whole answer is stored
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
    stop: StopSignals,
) -> AgentResponse:
    from .mcp_tools import ToolsetKeeper, mcp_specs

    tools = ToolsetKeeper(mcp_specs(settings, mcp))
    sources: list[Any] = []
    with stop.cancelling(asyncio.current_task()):
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
                response = await _show_turn(manager, session_id, text, json_output)
            finally:
                await manager.agent.aclose()
        finally:
            await tools.close()
            await store.close()
    _report(response, session_id, json_output)
    return response


async def _show_turn(
    manager: SessionManager, session_id: str, text: str, json_output: bool
) -> AgentResponse:
    from .stream_view import Mode, TurnView
    from .turn import run_turn

    console = out_console()
    mode: Mode = "silent" if json_output else ("live" if console.is_terminal else "plain")
    view = TurnView(console, mode, markdown=console.is_terminal, err_console=err_console())
    return await run_turn(manager, session_id, text, view)


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
