"""Exit codes scripts can rely on, and the one place errors become a red line.

| code | meaning |
|------|---------|
| 0    | success |
| 1    | a check failed (``doctor``) or an unexpected internal error |
| 2    | usage error: bad option or argument, empty or oversized input |
| 3    | the agent or its provider failed |
| 4    | configuration error: bad setting, malformed ``.env``, unknown agent spec, missing extra |
| 5    | session error: no such session, or the store could not be read or written |
| 6    | the session is busy: another turn holds it; retry |
| 7    | a cost budget is spent (``AGENTCLI_MAX_SESSION_COST``): nothing was stored |
| 129  | stopped by SIGHUP (the terminal closed); a partial answer is kept, marked interrupted |
| 130  | interrupted (Ctrl-C); a partial answer is kept, marked interrupted |
| 141  | the reader of standard output went away (``agentcli run ... | head -1``) |
| 143  | stopped by SIGTERM; a partial answer is kept, marked interrupted |
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ..errors import (
    AgentCLIError,
    AgentError,
    BudgetExceededError,
    ConfigError,
    InvalidInputError,
    MissingDependencyError,
    SessionBusyError,
    SessionNotFoundError,
    StoreError,
)

__all__ = [
    "AGENT_ERROR",
    "BROKEN_PIPE",
    "BUDGET_EXCEEDED",
    "CONFIG_ERROR",
    "FAILED",
    "INTERRUPTED",
    "OK",
    "SESSION_BUSY",
    "SESSION_ERROR",
    "USAGE",
    "CLIExit",
    "exit_code_for",
    "handle_errors",
    "print_error",
]

OK = 0
FAILED = 1
USAGE = 2
AGENT_ERROR = 3
CONFIG_ERROR = 4
SESSION_ERROR = 5
SESSION_BUSY = 6  # worth a retry, unlike 5: the turn ran into another one on the same session
BUDGET_EXCEEDED = 7  # not worth a retry: a new session, or a larger budget
INTERRUPTED = 130
BROKEN_PIPE = 141

P = ParamSpec("P")
R = TypeVar("R")


class CLIExit(Exception):
    """Stop the command with ``code`` after printing ``message`` (if any) as an error."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, BudgetExceededError):
        return BUDGET_EXCEEDED
    if isinstance(exc, ConfigError | MissingDependencyError):
        return CONFIG_ERROR
    if isinstance(exc, InvalidInputError):
        return USAGE
    if isinstance(exc, SessionBusyError):
        return SESSION_BUSY
    if isinstance(exc, SessionNotFoundError | StoreError):
        return SESSION_ERROR
    if isinstance(exc, AgentError):
        return AGENT_ERROR
    return FAILED


def print_error(message: str, *, prefix: str = "error") -> None:
    """One red line on standard error; the message is sanitised (it may quote a provider)."""
    from rich.text import Text

    from .console import err_console
    from .sanitize import sanitize

    line = Text.assemble((f"{prefix}: ", "bold red"), (sanitize(message), "red"))
    # Not wrapped at the console's width: a script or a log reading stderr gets one line.
    err_console().print(line, soft_wrap=True)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command, turning agentcli errors and Ctrl-C into one line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import typer

        try:
            return command(*args, **kwargs)
        except CLIExit as exc:
            if exc.message:
                print_error(exc.message)
            raise typer.Exit(exc.code) from None
        except AgentCLIError as exc:
            print_error(str(exc))
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            print_error("interrupted", prefix="stopped")
            raise typer.Exit(INTERRUPTED) from None
        except BrokenPipeError:
            # Nobody reads the rest: stop quietly (and keep Python from complaining at exit).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(BROKEN_PIPE) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("AGENTCLI_DEBUG"):
                raise
            print_error(
                f"{type(exc).__name__}: {exc} (this is a bug; set AGENTCLI_DEBUG=1 to see "
                "the traceback and please report it)",
                prefix="internal error",
            )
            raise typer.Exit(FAILED) from None

    return wrapper
