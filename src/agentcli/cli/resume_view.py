"""Where you were: the last few exchanges of a session, shown dim when the chat resumes it
(``chat --session ID``, ``chat --continue``, ``/resume ID``).

Each question and answer is cut to a few lines, each line to the terminal's width; the text is
sanitised like every other model text. ``/history`` shows the whole transcript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.text import Text

from .sanitize import sanitize

if TYPE_CHECKING:
    from rich.console import Console

    from ..messages import Message
    from ..stores.base import SessionStore

__all__ = ["RESUME_TURNS", "Exchange", "exchanges_view", "recent_exchanges", "show_recent"]

RESUME_TURNS = 3
LINES_EACH = 3  # lines of a question or an answer shown
_READ = 60  # messages read from the end: enough for three exchanges with a few tool calls
_LINE_CHARS = 300  # a line is cut here before the console cuts it to its width
QUESTION_SIGN = "› "  # noqa: RUF001 - the chat's prompt sign


@dataclass
class Exchange:
    """A user message and the assistant messages that answered it."""

    question: Message
    answers: list[Message] = field(default_factory=list)


async def recent_exchanges(
    store: SessionStore, session_id: str, count: int = RESUME_TURNS
) -> list[Exchange]:
    """The last ``count`` exchanges of the session, oldest first."""
    exchanges: list[Exchange] = []
    for message in await store.read(session_id, last=_READ):
        if message.role == "user":
            exchanges.append(Exchange(message))
        elif message.role == "assistant" and exchanges:
            exchanges[-1].answers.append(message)
    return exchanges[-count:]


def _shortened(text: str) -> list[str]:
    """The first ``LINES_EACH`` non-blank lines of ``text``, sanitised, with ``…`` where
    something was left out."""
    lines = [line.rstrip() for line in sanitize(text).expandtabs(4).splitlines() if line.strip()]
    kept = [line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…" for line in lines]
    kept = kept[:LINES_EACH]
    if len(lines) > LINES_EACH:
        kept[-1] += " …"
    return kept


def _answer_text(exchange: Exchange) -> tuple[str, str]:
    """The answer's text (its rounds joined) and a note on how it ended."""
    text = "\n\n".join(m.content for m in exchange.answers if m.content.strip())
    last = exchange.answers[-1] if exchange.answers else None
    if last is None:
        return text, "(no answer)"
    if last.status == "interrupted":
        return text, "[interrupted]"
    if last.status == "failed":
        return text, "[failed]"
    return text, ""


def exchanges_view(exchanges: list[Exchange]) -> list[Text]:
    """One dim line per line shown: questions after the prompt sign, answers indented."""
    shown: list[Text] = []
    for exchange in exchanges:
        for index, line in enumerate(_shortened(exchange.question.content) or [""]):
            shown.append(Text((QUESTION_SIGN if index == 0 else "  ") + line))
        text, note = _answer_text(exchange)
        lines = _shortened(text)
        if note:
            lines = [*lines[:-1], f"{lines[-1]} {note}"] if lines else [note]
        shown.extend(Text("  " + line) for line in lines)
    for text_line in shown:
        text_line.stylize("dim")
    return shown


async def show_recent(console: Console, store: SessionStore, session_id: str) -> None:
    """Print the last exchanges of the session (nothing for an empty one)."""
    exchanges = await recent_exchanges(store, session_id)
    if not exchanges:
        return
    what = "the last exchange" if len(exchanges) == 1 else f"the last {len(exchanges)} exchanges"
    console.print(Text(f"{what} of this session (/history shows them all):", style="dim"))
    # A terminal gets each line cut to its width; a pipe gets the lines whole.
    cut = console.is_terminal
    for line in exchanges_view(exchanges):
        console.print(line, no_wrap=cut or None, overflow="ellipsis" if cut else None)
