"""A chat in process for the tests: a Repl (no input loop) printing to a string buffer."""

from __future__ import annotations

import io

from rich.console import Console

from agentcli.cli.repl import ChatOptions, Repl
from agentcli.cli.runtime import open_cli_store
from agentcli.config import Settings


def printed(repl: Repl, *, one_line: bool = True) -> str:
    """What the chat printed since the last call, collapsed to one line of plain text (or as
    printed, if not ``one_line``); the buffer is cleared."""
    file = repl.console.file
    assert isinstance(file, io.StringIO)
    text = file.getvalue()
    file.seek(0)
    file.truncate()
    return " ".join(text.split()) if one_line else text


class ChatStarter:
    """Starts Repls printing to a buffer without colours or markup; closes them all at the end."""

    def __init__(self) -> None:
        self.started: list[Repl] = []

    async def start(
        self,
        settings: Settings,
        options: ChatOptions,
        *,
        width: int = 100,
        terminal: bool = False,
        emoji: bool = False,
        ephemeral: bool | None = True,
        keep_banner: bool = False,
    ) -> Repl:
        """A started Repl on ``open_cli_store(settings, ephemeral=ephemeral)``, printing
        ``width`` columns (as to a terminal if ``terminal``); the banner is cleared from its
        output unless ``keep_banner``."""
        repl = Repl(settings, open_cli_store(settings, ephemeral=ephemeral), options)
        repl.console = Console(
            file=io.StringIO(),
            width=width,
            force_terminal=True if terminal else None,
            color_system=None,
            markup=False,
            emoji=emoji,
        )
        self.started.append(repl)
        await repl.start()
        if not keep_banner:
            printed(repl)
        return repl

    async def close_all(self) -> None:
        """Close every Repl started, in the order they were started."""
        for repl in self.started:
            await repl.close()
        self.started.clear()
