"""``agentcli chat``: the read-eval-print loop.

The prompt appears before a provider agent exists: its SDK (0.7-1.8 s to import) loads on a
worker thread while the user types, and the first turn waits for it if it must.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text

from .._version import __version__
from ..errors import AgentCLIError
from . import render
from .console import err_console, out_console
from .exits import print_error
from .mcp_tools import ToolsetKeeper
from .runtime import build_agent, build_manager, mcp_ignored, resolve_session, uses_tools
from .stop_signals import StopSignals

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

    from ..agent import AgentInterface
    from ..config import Settings
    from ..messages import AgentResponse
    from ..session import SessionManager
    from ..stores.base import SessionStore
    from .attachments import Attachment

__all__ = ["ChatOptions", "Repl"]

WARM_UP_DELAY = 0.05  # seconds: background loading starts once the prompt is drawn
HINT = "/help for commands · Esc+Enter for a new line · Ctrl-C cancels an answer · Ctrl-D exits"


def fallback_notice() -> str:
    """Why the chat runs on the echo agent, naming the keys the provider table knows."""
    from ..agents.registry import keyed_providers

    keys = " or ".join(info.key_variable or "" for info in keyed_providers())
    return f"offline echo agent: set {keys} and DEFAULT_MODEL, or pass --agent SPEC"


@dataclass
class ChatOptions:
    spec: str
    fallback: bool = False
    session: str | None = None
    cont: bool = False
    system: str | None = None
    stream: bool = True
    ephemeral: bool = False
    mcp: list[str] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)  # -f: sent with the first message
    request_options: dict[str, Any] = field(default_factory=dict)  # -o, checked
    markdown: bool | None = None  # --markdown/--raw; /markdown toggles


class Repl:
    def __init__(self, settings: Settings, store: SessionStore, options: ChatOptions) -> None:
        from .slash import SlashCommands

        self.settings = settings
        self.store = store
        self.options = options
        self.console = out_console()
        self.err = err_console()
        self.spec = options.spec
        self.session_id = ""
        self.running = True
        self._manager: SessionManager | None = None
        self._agent_task: asyncio.Future[AgentInterface] | None = None
        # The --system prompt, for the session it is to be set on (once that session is known).
        self._pending_system: tuple[str, str] | None = None
        self._pending_options: str | None = None  # the session the -o options are for
        self.commands = SlashCommands(self)
        self._session_ids: list[str] = []
        self._background: set[asyncio.Future[None]] = set()
        self._notices: list[str] = []
        self._tools = ToolsetKeeper(options.mcp)
        self.stop = StopSignals()  # SIGTERM or SIGHUP during a turn ends the chat after it
        self.markdown = self.console.is_terminal if options.markdown is None else options.markdown
        self.draft = ""  # a refused message, offered again at the next prompt (and to /edit)

    # ------------------------------------------------------------------ start and loop

    async def run(self) -> None:
        await self.start()
        prompt = self._prompt_session() if sys.stdin.isatty() else None
        self._warm_up_tokenizer()
        try:
            while self.running:
                text = await self._read(prompt)
                if text is None:
                    break
                if text.strip():
                    await self.handle(text)
        finally:
            await self.close()

    async def start(self) -> None:
        """Choose the session, start the agent and show the banner: all before the loop."""
        self.session_id, info = await resolve_session(
            self.store, self.options.session, self.options.cont
        )
        self._set_system_later()
        self.start_agent(self.spec)
        self._banner(resumed=info is not None, messages=info.message_count if info else 0)
        if info is not None:  # where the user was, before the first prompt
            from .resume_view import show_recent

            await show_recent(self.console, self.store, self.session_id)
        if self.options.cont and info is None:
            self.err.print(Text("no earlier session to continue: starting a new one", "yellow"))

    async def handle(self, text: str) -> None:
        """One input: a slash command or a message to the agent."""
        if text.lstrip().startswith("/") and "\n" not in text.strip():
            await self.commands.dispatch(text.strip())
        else:
            from .attachments import send_message

            await send_message(self, text)

    async def _read(self, prompt: PromptSession[str] | None) -> str | None:
        from .prompt_input import unwrap_block

        if prompt is None:  # not a terminal: one message per line, until end of input
            from .bounded_input import read_line

            return await asyncio.to_thread(read_line, sys.stdin, self.settings.max_input_chars)
        self._session_ids = [s.id for s in await self.store.list_sessions(limit=50)]
        while True:
            try:
                draft, self.draft = self.draft, ""
                return unwrap_block(await prompt.prompt_async(default=draft))
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                return None

    def _prompt_session(self) -> PromptSession[str]:
        from .prompt_input import SlashCompleter, make_prompt_session
        from .prompt_store import prompt_names
        from .set_command import completions
        from .slash import AGENT_SPECS, COMMANDS

        history = None if self.options.ephemeral else self.settings.data_dir / "history"
        completer = SlashCompleter(
            {name: meta for name, (meta, _) in COMMANDS.items()},
            {
                "/resume": lambda: self._session_ids,
                "/agent": lambda: AGENT_SPECS,
                "/prompt": lambda: prompt_names(self.settings.data_dir),
                "/set": completions,
            },
            repeated=frozenset({"/set"}),
        )
        return make_prompt_session(history, completer)

    def _banner(self, *, resumed: bool, messages: int) -> None:
        state = f"resumed, {messages} messages" if resumed else "new"
        self.console.print(
            Text.assemble(
                (f"agentcli {__version__}", "bold"),
                " · agent ",
                (self.spec, "bold magenta"),
                " · session ",
                (self.session_id, "bold cyan"),
                (f" ({state})", "dim"),
            )
        )
        if self.options.fallback:
            self.console.print(Text(fallback_notice(), style="yellow"))
        self.console.print(Text(HINT, style="dim"))

    async def close(self) -> None:
        """Stop background work, close the agent and the store; say how to resume."""
        for pending in (self._agent_task, *self._background):
            if pending is not None and not pending.done():
                pending.cancel()
        await self._tools.close()
        saved = not self.options.ephemeral and await self._session_exists()
        if self._manager is not None:
            await self._manager.agent.aclose()
        await self.store.close()
        if saved:
            self.console.print(
                Text(f"resume with: agentcli chat --session {self.session_id}", style="dim")
            )

    async def _session_exists(self) -> bool:
        try:
            return await self.store.info(self.session_id) is not None
        except AgentCLIError:
            return False

    # ------------------------------------------------------------------ the agent

    def start_agent(self, spec: str) -> None:
        """Create the agent: provider agents on a worker thread, others right away."""
        provider = uses_tools(spec)
        self.spec = spec
        if provider:
            self._agent_task = asyncio.ensure_future(self._build_later(spec))
        else:
            if self.options.mcp:
                self._notices.append(mcp_ignored(spec))
            future: asyncio.Future[AgentInterface] = asyncio.get_running_loop().create_future()
            future.set_result(build_agent(spec, self.settings))
            self._agent_task = future

    async def _build_later(self, spec: str) -> AgentInterface:
        # Let the prompt draw first: the SDK import holds the GIL for most of a second.
        await asyncio.sleep(WARM_UP_DELAY)
        return await asyncio.to_thread(build_agent, spec, self.settings, await self._sources())

    async def _sources(self) -> list[Any]:
        """Open MCP toolsets; if a server fails, the agent runs without them (and says so)."""
        try:
            return await self._tools.sources()
        except Exception as exc:
            self._notices.append(f"MCP tools unavailable, continuing without them: {exc}")
            return []

    def _warm_up_tokenizer(self) -> None:
        """Load the tokenizer (about 0.3 s) while the user types, not on the first turn."""
        from ..tokens import get_encoding

        async def load() -> None:
            await asyncio.sleep(WARM_UP_DELAY)
            try:
                await asyncio.to_thread(get_encoding)
            except Exception:  # the first turn will report it properly
                return

        self._background.add(asyncio.ensure_future(load()))

    async def switch_agent(self, spec: str) -> SessionManager:
        """``/agent SPEC``: the new agent is built first; if that fails, the old one stays."""
        from ..agents.factory import check_spec

        check_spec(spec, self.settings)  # no key or SDK: say so now, and keep the old agent
        sources = await self._sources() if uses_tools(spec) else []
        agent = await asyncio.to_thread(build_agent, spec, self.settings, sources)
        future: asyncio.Future[AgentInterface] = asyncio.get_running_loop().create_future()
        future.set_result(agent)
        self.spec, self._agent_task = spec, future
        return await self.manager()

    async def manager(self) -> SessionManager:
        """The session manager, once the agent is ready (switching it if it changed)."""
        assert self._agent_task is not None
        try:
            # Shielded: Ctrl-C while waiting cancels the turn, not the agent being built.
            agent = await asyncio.shield(self._agent_task)
        except Exception as exc:
            detail = str(exc) if isinstance(exc, AgentCLIError) else f"{type(exc).__name__}: {exc}"
            print_error(f"agent {self.spec} is not available: {detail}")
            self.err.print(
                Text("switched to the offline echo agent; /agent SPEC to change", "yellow")
            )
            self.start_agent("echo")
            agent = await self._agent_task
        for notice in self._notices:
            self.err.print(Text(notice, style="yellow"))
        self._notices.clear()
        if self._manager is None:
            self._manager = build_manager(agent, self.store, self.settings)
        elif self._manager.agent is not agent:
            old = self._manager.agent
            self._manager.set_agent(agent)
            await old.aclose()
        if self._pending_system is not None:
            session_id, prompt = self._pending_system
            self._pending_system = None
            if session_id == self.session_id:  # not if /resume switched away meanwhile
                await self._manager.set_system_prompt(session_id, prompt)
        if self._pending_options == self.session_id:
            await self._manager.update_options(self.session_id, self.options.request_options)
        self._pending_options = None
        return self._manager

    def _set_system_later(self) -> None:
        """--system and -o go to the current session when the manager is next needed."""
        prompt = self.options.system
        self._pending_system = (self.session_id, prompt) if prompt is not None else None
        self._pending_options = self.session_id if self.options.request_options else None

    async def new_session(self) -> str | None:
        """``/clear``: switch to a new session with the --system prompt the chat started with.

        Returns the old session's id if it is stored (it has messages), else ``None``.
        """
        from .runtime import new_session_id

        old = self.session_id
        try:
            info = await self.store.info(old)
        except AgentCLIError:
            info = None
        self.session_id = new_session_id()
        self._set_system_later()
        return old if info is not None and info.message_count > 0 else None

    # ------------------------------------------------------------------ a turn

    async def turn(self, text: str) -> None:
        from .stream_view import TurnView, choose_mode
        from .turn import run_turn

        mode = choose_mode(
            self.console.is_terminal, stream=self.options.stream, markdown=self.markdown
        )
        view = TurnView(self.console, mode, markdown=self.markdown, err_console=self.err)

        async def body() -> AgentResponse:
            # Waiting for a provider agent still loading is part of the turn: Ctrl-C stops it.
            return await run_turn(await self.manager(), self.session_id, text, view)

        task = asyncio.ensure_future(body())
        cancelled = await _wait_cancellable(task, self.stop)
        if self.stop.received is not None:
            self.running = False  # the partial (or whole) answer is stored: end the chat
            return
        if cancelled:
            if self._manager is not None:
                await self.show_usage()
            return
        exc = task.exception()
        if isinstance(exc, AgentCLIError):
            print_error(str(exc))
            return
        if exc is not None:
            print_error(f"{type(exc).__name__}: {exc}", prefix="internal error")
            return
        self.after_turn(task.result())

    def after_turn(self, response: AgentResponse) -> None:
        if response.error is not None:
            print_error(f"the agent reported an error: {response.error}")
        for line in render.cleanup_lines(response.cleanup):
            self.console.print(line)
        if response.context is not None:
            self.console.print(render.turn_line(response.context, response, width=self.fit))

    async def show_usage(self) -> None:
        """The gauge alone (after /resume, /compact, a cancelled turn), fitted like a turn's."""
        usage = await (await self.manager()).usage(self.session_id)
        self.console.print(render.turn_line(usage, width=self.fit))

    @property
    def fit(self) -> int | None:
        """The width a status line must fit: the terminal's; ``None`` (whole) when not one."""
        return self.console.width if self.console.is_terminal else None


async def _wait_cancellable(task: asyncio.Future[AgentResponse], stop: StopSignals) -> bool:
    """Wait for ``task``; Ctrl-C cancels it, and so do SIGTERM and SIGHUP (``stop`` remembers
    which). Returns whether it was cancelled."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False  # not the main thread, or no signals here (Windows)
    try:
        with stop.cancelling(task):
            await asyncio.wait({task})
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
    return task.cancelled()
