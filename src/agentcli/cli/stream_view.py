"""Show one turn as it happens: streamed text, tool calls, then the answer.

Four ways, one interface:
- ``live`` (a terminal): the answer's tail streams in a transient ``rich.live.Live`` region,
  replaced by the answer (Markdown, or the text as written with ``--raw``) when the answer (or
  a segment before a tool call) is done;
- ``plain`` (not a terminal): sanitised text is written as it arrives, exactly as the model
  wrote it; tool lines go to stderr;
- ``quiet`` (``--no-stream``, or ``--markdown`` when not a terminal): nothing until the end,
  then the whole answer at once;
- ``silent`` (``run --json``): the answer is not shown at all (the caller prints JSON).

Until the first output a spinner with the seconds waited runs on stderr (a terminal only).

A view may be made without consoles: it makes standard output's and error's on first use, so a
``plain`` view writing to a pipe never loads rich (a tenth of ``agentcli run``'s start) unless
a tool line, a notice or the spinner has to be shown.

All text passes through one ``StreamSanitizer`` per turn, so an escape sequence split across
chunks is still caught.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Literal

from ..messages import make_storable
from .console import is_terminal
from .sanitize import StreamSanitizer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from ..messages import Message, ToolCall
    from .waiting import Waiting

__all__ = ["NOTHING_STORED", "PARTIAL_KEPT", "Mode", "TurnView", "choose_mode"]

Mode = Literal["live", "plain", "quiet", "silent"]
REFRESH_SECONDS = 0.05
PARTIAL_KEPT = "[interrupted: the partial answer is kept]"
NOTHING_STORED = "[interrupted before the answer started; nothing was stored for it]"


def choose_mode(terminal: bool, *, stream: bool = True, markdown: bool = False) -> Mode:
    """Live on a terminal; the text as it comes when not, unless Markdown is asked for there
    (it needs the whole answer); ``quiet`` without streaming."""
    if not stream:
        return "quiet"
    if terminal:
        return "live"
    return "quiet" if markdown else "plain"


class TurnView:
    def __init__(
        self,
        console: Console | None,
        mode: Mode,
        *,
        markdown: bool = True,
        err_console: Console | None = None,
    ) -> None:
        self._console = console
        self._err = err_console or console
        self.mode: Mode = mode
        self.markdown = markdown
        self._sanitizer = StreamSanitizer()
        self._segment: list[str] = []
        self._live: Live | None = None
        self._last_refresh = 0.0
        self._waiting: Waiting | None = None
        self._tool_results = False
        self._ended_line = False
        self.shown_text = False

    @property
    def console(self) -> Console:
        """Where the answer is drawn (standard output's console, made on first use)."""
        if self._console is None:
            from .console import out_console

            self._console = out_console()
        return self._console

    @property
    def err(self) -> Console:
        """Where notices and the spinner go (standard error's console, made on first use)."""
        if self._err is None:
            from .console import err_console

            self._err = err_console()
        return self._err

    def start(self) -> None:
        """The turn was sent: wait visibly until its first output."""
        if self.mode == "silent" or (self._err is None and not is_terminal(sys.stderr)):
            return  # no spinner off a terminal: no need to make the console to learn that
        if self._waiting is None:  # started twice, it is still one spinner
            from .waiting import Waiting

            self._waiting = Waiting(self.err)
        self._waiting.start()

    def _stop_waiting(self) -> None:
        if self._waiting is not None:
            self._waiting.stop()

    # ------------------------------------------------------------------ events

    def text(self, chunk: str) -> None:
        # Shown as it is stored: a lone surrogate cannot even be written to a UTF-8 stdout.
        chunk = make_storable(chunk)
        if self._accept(self._sanitizer.feed(chunk)) and self.mode == "live":
            self._refresh()

    def tool_call(self, call: ToolCall) -> None:
        from .render import tool_call_line

        self._flush_segment()
        self._note(tool_call_line(call))

    def tool_result(self, message: Message) -> None:
        from .render import tool_result_line

        self._tool_results = True
        self._flush_segment()
        self._note(tool_result_line(message))

    def finish(self, fallback: str = "", *, interrupted: bool = False) -> None:
        """End the turn; ``fallback`` is the response's output, shown if nothing streamed."""
        self._stop_waiting()
        self._accept(self._sanitizer.close())
        if not self.shown_text and fallback:
            self._accept(self._sanitizer.feed(fallback) + self._sanitizer.close())
        self._flush_segment()
        if self.mode == "plain" and self.shown_text and not self._ended_line:
            self._write("\n")  # the answer's last line ends, once
        if interrupted:
            from rich.text import Text

            # The session keeps an interrupted answer only if text or a tool's result came.
            kept = self.shown_text or self._tool_results
            self.err.print(Text(PARTIAL_KEPT if kept else NOTHING_STORED, style="yellow"))

    # ------------------------------------------------------------------ drawing

    def _accept(self, safe: str) -> bool:
        if not safe:
            return False
        self.shown_text = True
        if self.mode == "plain":
            self._stop_waiting()
            self._ended_line = safe.endswith("\n")
            self._write(safe)
        else:
            self._segment.append(safe)
        return True

    def _write(self, text: str) -> None:
        out: IO[str] = self._console.file if self._console is not None else sys.stdout
        out.write(text)
        out.flush()

    def _note(self, line: Text) -> None:
        if self.mode == "silent":
            return
        self._stop_waiting()
        (self.err if self.mode == "plain" else self.console).print(line)

    def _flush_segment(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        # After a tool line, the paragraph break that opens the next segment is already drawn.
        text = "".join(self._segment).lstrip("\n")
        self._segment.clear()
        if text.strip() and self.mode in ("live", "quiet"):
            from .render import answer

            self._stop_waiting()
            self.console.print(answer(text, markdown=self.markdown))

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._live is None:
            from rich.live import Live

            self._stop_waiting()
            self._live = Live(
                console=self.console,
                transient=True,
                auto_refresh=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        elif now - self._last_refresh < REFRESH_SECONDS:
            return
        self._last_refresh = now
        self._live.update(self._tail(), refresh=True)

    def _tail(self) -> Text:
        """The end of the answer so far, as many lines as fit above the prompt."""
        from rich.text import Text

        text = Text("".join(self._segment))
        lines = list(text.wrap(self.console, max(20, self.console.width)))
        room = max(3, self.console.height - 2)
        return Text("\n").join(lines[-room:])
