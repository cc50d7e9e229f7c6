"""``/pin``, ``/unpin`` and ``/pins``: keep exchanges in the context window through cleanups.

``/pin`` pins the exchange of the last question, ``/pin N`` the exchange of message #N (the
numbers ``/history`` shows), ``/unpin N`` lets cleanup drop it again, ``/pins`` lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from . import render
from .context_view import PIN, pinned_exchanges

if TYPE_CHECKING:
    from rich.console import Console

    from ..session import SessionSnapshot
    from .repl import Repl

__all__ = ["list_pins", "pin", "pins_lines", "unpin"]


async def pin(repl: Repl, out: Console, args: list[str]) -> None:
    manager = await repl.manager()
    session_id = repl.session_id
    if args:
        seq = _message_number(args)
    else:
        window = (await manager.snapshot(session_id)).window
        question = next((m for m in reversed(window) if m.role == "user"), None)
        if question is None:
            out.print(Text("nothing to pin yet: no question in the context window", "dim"))
            return
        seq = question.seq
    await manager.pin(session_id, seq)
    out.print(Text(f"{PIN} pinned #{seq}: its exchange stays in the context window", "green"))
    for line in pins_lines(await manager.snapshot(session_id)):
        out.print(line)


async def unpin(repl: Repl, out: Console, args: list[str]) -> None:
    manager = await repl.manager()
    seq = _message_number(args)
    await manager.unpin(repl.session_id, seq)
    snapshot = await manager.snapshot(repl.session_id)
    if any(m.seq == seq for m in snapshot.window):
        out.print(Text(f"unpinned #{seq}: cleanup may drop its exchange again", "green"))
    else:
        out.print(
            Text(
                f"unpinned #{seq}: older than the window's start, its exchange left the window "
                "(/history keeps it)",
                "green",
            )
        )
    for line in pins_lines(snapshot):
        out.print(line)


async def list_pins(repl: Repl, out: Console, args: list[str]) -> None:
    manager = await repl.manager()
    for line in pins_lines(await manager.snapshot(repl.session_id)):
        out.print(line)


def pins_lines(snapshot: SessionSnapshot) -> list[Text]:
    """One line per pinned exchange, then their share of the window."""
    exchanges = pinned_exchanges(snapshot)
    if not exchanges:
        return [Text("nothing pinned (/pin pins the last exchange, /pin N message #N)", "dim")]
    window = snapshot.usage.window
    lines = [e.label(80).append(f"  ({e.tokens:,} tokens)", style="dim") for e in exchanges]
    tokens = sum(e.tokens for e in exchanges)
    noun = "exchange" if len(exchanges) == 1 else "exchanges"
    lines.append(
        Text(
            f"pinned: {len(exchanges)} {noun}, {tokens:,} tokens "
            f"({render.percent(tokens, window)} of the window)",
            "bold",
        )
    )
    return lines


def _message_number(args: list[str]) -> int:
    from .slash import UsageProblem

    text = args[0].removeprefix("#") if len(args) == 1 else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise UsageProblem("give one message number, as /history shows it")
    return int(text)
