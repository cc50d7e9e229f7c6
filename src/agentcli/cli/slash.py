"""The REPL's slash commands. A bad command or argument gets one clear line, never a traceback."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from rich.text import Text

from ..agents.registry import example_specs
from ..errors import AgentCLIError
from . import render
from .exits import print_error
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from rich.console import Console

    from .repl import Repl

__all__ = ["AGENT_SPECS", "COMMANDS", "SlashCommands", "UsageProblem"]

AGENT_SPECS = ["echo", *example_specs()]  # what Tab offers after /agent

# name: (what it does, its arguments)
COMMANDS: dict[str, tuple[str, str]] = {
    "/help": ("show commands and keys", ""),
    "/context": ("what fills the context window", ""),
    "/clear": ("start a new, empty session (the old one is kept)", ""),
    "/compact": (
        "clean the window up now (instructions: summarise all but the last exchanges)",
        "[INSTRUCTIONS]",
    ),
    "/pin": ("keep the last exchange (or message #N's) in the window through cleanups", "[N]"),
    "/unpin": ("let cleanup drop message #N's exchange again", "N"),
    "/pins": ("the pinned exchanges and their share of the window", ""),
    "/history": ("the whole transcript, or its last N messages", "[N]"),
    "/export": ("write the session to a file", "[PATH] [--format md|json] [--force]"),
    "/sessions": ("recent sessions", ""),
    "/resume": ("switch to another session", "ID"),
    "/system": ("show, set or --clear the system prompt", "[TEXT | --clear]"),
    "/prompt": ("use a saved prompt as the system prompt, or list them", "[NAME]"),
    "/agent": ("show or switch the agent", "[SPEC]"),
    "/set": ("show or change this session's request options (NAME= drops one)", "[NAME=VALUE ...]"),
    "/cost": ("tokens and cost of this session", ""),
    "/markdown": ("show answers as Markdown or exactly as written (toggles)", "[on|off]"),
    "/copy": ("copy code block N of the last answer (default: the last)", "[N] [FILE] [--force]"),
    "/edit": ("write the next message in $VISUAL or $EDITOR", "[TEXT]"),
    "/exit": ("leave (Ctrl-D does too)", ""),
    "/quit": ("leave", ""),
}
KEYS = (
    ("Enter", "send"),
    ("Esc Enter / Alt+Enter", "new line"),
    ('"""', 'start a block; Enter adds lines until a line ends with """'),
    ("Tab", "complete commands"),
    ("Ctrl-C", "cancel the answer in progress, or clear the line"),
    ("Ctrl-D", "exit"),
    ("Up / Ctrl-R", "history"),
)


class UsageProblem(Exception):
    """A slash command was called wrongly; the message says how to call it."""


Handler = Callable[[list[str]], Awaitable[None]]


class SlashCommands:
    def __init__(self, repl: Repl) -> None:
        self.repl = repl
        self.handlers: dict[str, Handler] = {
            "/help": self.help,
            "/context": self.context,
            "/clear": self.clear,
            "/compact": self.compact,
            "/pin": self.pin,
            "/unpin": self.unpin,
            "/pins": self.pins,
            "/history": self.history,
            "/export": self.export,
            "/sessions": self.sessions,
            "/resume": self.resume,
            "/system": self.system,
            "/prompt": self.prompt,
            "/agent": self.agent,
            "/set": self.set_options,
            "/cost": self.cost,
            "/markdown": self.markdown,
            "/copy": self.copy,
            "/edit": self.edit,
            "/exit": self.exit,
            "/quit": self.exit,
        }

    async def dispatch(self, line: str) -> None:
        name, _, rest = line.partition(" ")
        handler = self.handlers.get(name)
        if handler is None:
            close = [c for c in COMMANDS if c.startswith(name[:3])] if len(name) > 1 else []
            hint = f" (did you mean {close[0]}?)" if close else ""
            print_error(f"unknown command {sanitize_inline(name, 40)}{hint}; /help lists them")
            return
        try:
            free_text = name in ("/system", "/compact", "/edit")  # taken as written, quotes and all
            args = shlex.split(rest) if not free_text else ([rest.strip()] if rest.strip() else [])
            await handler(args)
        except AgentCLIError as exc:  # first: an InvalidInputError is also a ValueError
            print_error(str(exc))
        except (UsageProblem, ValueError) as exc:
            usage = COMMANDS[name][1]
            print_error(f"{exc}. Usage: {name} {usage}".rstrip())
        except Exception as exc:  # a REPL survives a bug in one command
            print_error(f"{name} failed: {type(exc).__name__}: {exc}", prefix="internal error")

    @property
    def out(self) -> Console:
        return self.repl.console

    # ------------------------------------------------------------------ commands

    async def help(self, args: list[str]) -> None:
        from .chat_views import help_rows

        self.out.print(help_rows(COMMANDS, KEYS))

    async def context(self, args: list[str]) -> None:
        from .context_view import context_breakdown

        _no_args(args)
        manager = await self.repl.manager()
        self.out.print(await context_breakdown(manager, self.repl.session_id))

    async def clear(self, args: list[str]) -> None:
        _no_args(args)
        old = await self.repl.new_session()
        back = f"; /resume {old} to go back" if old is not None else ""
        self.out.print(Text(f"new session {self.repl.session_id}{back}", "green"))

    async def compact(self, args: list[str]) -> None:
        manager = await self.repl.manager()
        report = await manager.compact(self.repl.session_id, args[0] if args else None)
        before = render.percent(report.tokens_before, report.window)
        if report.summarized:
            after = render.percent(report.tokens_after, report.window)
            self.out.print(
                Text(
                    f"compacted: summarised {report.summarized} messages into 1, "
                    f"{before} → {after}",
                    "green",
                )
            )
        elif report.trimmed:
            after = render.percent(report.tokens_after, report.window)
            self.out.print(
                Text(f"compacted: trimmed {report.trimmed} messages, {before} → {after}", "green")
            )
            if report.warning:  # trimmed, but still above the target
                self.out.print(Text(sanitize_inline(report.warning, 300), "yellow"))
        elif report.warning:  # above the target, but everything left must be kept
            keep = max(1, manager.min_messages_to_keep)
            self.out.print(
                Text(
                    "nothing to trim: only messages that are always kept remain (system messages "
                    f"and the exchanges of the last {keep}); they fill {before} of the window, "
                    f"above the cleanup target of {manager.cleanup_target:.0%}",
                    "yellow",
                )
            )
        else:
            self.out.print(Text("nothing to trim: the window is at or below its target", "dim"))
        await self.repl.show_usage()

    async def pin(self, args: list[str]) -> None:
        from .pin_commands import pin

        await pin(self.repl, self.out, args)

    async def unpin(self, args: list[str]) -> None:
        from .pin_commands import unpin

        await unpin(self.repl, self.out, args)

    async def pins(self, args: list[str]) -> None:
        from .pin_commands import list_pins

        _no_args(args)
        await list_pins(self.repl, self.out, args)

    async def history(self, args: list[str]) -> None:
        last = _count_arg(args)
        store, session_id = self.repl.store, self.repl.session_id
        messages = await store.read(session_id, last=last)
        info = await store.info(session_id)
        if not messages:
            self.out.print(Text("no messages yet", "dim"))
            return
        for block in render.transcript(messages, info.window_start if info else 1):
            self.out.print(block)

    async def export(self, args: list[str]) -> None:
        from .exporting import export_to_file, parse_export_args, take_force

        args, force = take_force(args)
        path, fmt = parse_export_args(args)
        session_id = self.repl.session_id
        written = await export_to_file(self.repl.store, session_id, fmt, path, force=force)
        self.out.print(Text(f"exported to {written}", "green"))

    async def sessions(self, args: list[str]) -> None:
        from .session_table import sessions_table

        _no_args(args)
        infos = await self.repl.store.list_sessions(limit=20)
        self.out.print(sessions_table(infos, current=self.repl.session_id))

    async def resume(self, args: list[str]) -> None:
        from .resume_view import show_recent
        from .runtime import find_session

        if len(args) != 1:
            raise UsageProblem("give one session id (/sessions lists them)")
        info = await find_session(self.repl.store, args[0])
        self.repl.session_id = info.id
        self.out.print(Text(f"resumed session {info.id} ({info.message_count} messages)", "green"))
        await show_recent(self.out, self.repl.store, info.id)
        await self.repl.show_usage()

    async def system(self, args: list[str]) -> None:
        manager = await self.repl.manager()
        session_id = self.repl.session_id
        if not args:
            from .chat_views import shown_prompt

            prompt = await manager.system_prompt_for(session_id)
            shown = shown_prompt(prompt, whole=not self.out.is_terminal) if prompt else "(none)"
            self.out.print(Text.assemble(("system prompt: ", "bold"), shown))
            return
        text = args[0]
        await manager.set_system_prompt(session_id, None if text == "--clear" else text)
        self.out.print(Text("system prompt cleared" if text == "--clear" else "system prompt set"))

    async def prompt(self, args: list[str]) -> None:
        from .prompt_views import prompt_command

        await prompt_command(self.repl, self.out, args)

    async def agent(self, args: list[str]) -> None:
        if len(args) > 1:
            raise UsageProblem("give one agent spec")
        manager = await (self.repl.switch_agent(args[0]) if args else self.repl.manager())
        window = manager.context_window_size
        self.out.print(
            Text(f"agent {self.repl.spec} (window {window:,} tokens)", "green" if args else "")
        )

    async def set_options(self, args: list[str]) -> None:
        from .set_command import set_command

        await set_command(self.repl, self.out, args)

    async def cost(self, args: list[str]) -> None:
        _no_args(args)
        messages = await self.repl.store.read(self.repl.session_id)
        self.out.print(render.cost_summary(messages))

    async def copy(self, args: list[str]) -> None:
        from .copy_command import copy_command

        await copy_command(self.repl, self.out, args)

    async def edit(self, args: list[str]) -> None:
        from .editor import edit_command

        await edit_command(self.repl, self.out, args)

    async def markdown(self, args: list[str]) -> None:
        choices = {"on": True, "off": False}
        if len(args) > 1 or (args and args[0] not in choices):
            raise UsageProblem("give on, off or nothing")
        self.repl.markdown = choices[args[0]] if args else not self.repl.markdown
        how = "as Markdown" if self.repl.markdown else "exactly as written (raw)"
        self.out.print(Text(f"answers are shown {how}"))

    async def exit(self, args: list[str]) -> None:
        self.repl.running = False


def _count_arg(args: list[str]) -> int | None:
    """``/history``'s optional N: a whole number of 1 or more."""
    if not args:
        return None
    try:
        count = int(args[0]) if len(args) == 1 else None
    except ValueError:
        count = None
    if count is None:
        raise UsageProblem("give a number of messages, or nothing for all")
    if count < 1:
        raise UsageProblem("N must be 1 or more")
    return count


def _no_args(args: list[str]) -> None:
    if args:
        raise UsageProblem("this command takes no arguments")
