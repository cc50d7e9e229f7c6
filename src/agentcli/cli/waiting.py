"""The waiting indicator: a spinner and the seconds waited, on standard error, from the moment
a turn is sent until its first output. Only on a terminal: a pipe or a log never sees it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

__all__ = ["WAITING", "Waiting"]

WAITING = "waiting for the answer"
REFRESHES_PER_SECOND = 8


class _Elapsed:
    """The spinner's frame for the current time, then ``waiting for the answer 3s``."""

    def __init__(self) -> None:
        from rich.spinner import Spinner

        self.started = time.monotonic()
        self.spinner = Spinner("dots", style="cyan")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        seconds = int(time.monotonic() - self.started)
        self.spinner.update(text=Text(f"{WAITING} {seconds}s · Ctrl-C cancels", style="dim"))
        yield self.spinner.render(console.get_time())


class Waiting:
    """``start`` shows the spinner (if ``console`` is a terminal); ``stop`` removes it, leaving
    the screen as it was. Both may be called any number of times."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None

    def start(self) -> None:
        if self._live is not None or not self.console.is_terminal:
            return
        from rich.live import Live

        self._live = Live(
            _Elapsed(),
            console=self.console,
            transient=True,  # gone without a trace once the answer starts
            refresh_per_second=REFRESHES_PER_SECOND,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start(refresh=True)

    def stop(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()
