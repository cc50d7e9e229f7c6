"""``agentcli prompts ...``: save, list, show and delete named system prompts, and the
``--prompt NAME`` option of ``run`` and ``chat``. The work is in ``prompt_store``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from .exits import handle_errors

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["PromptOpt", "prompts_app", "system_prompt_from"]

prompts_app = typer.Typer(
    help="Save, list, show and delete named system prompts (use one with --prompt NAME).",
    no_args_is_help=True,
)
PromptOpt = Annotated[
    str | None,
    typer.Option(
        "--prompt",
        metavar="NAME",
        help="Use a saved prompt as the session's system prompt (agentcli prompts list).",
    ),
]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The prompt's name.")]


def system_prompt_from(
    system: str | None, prompt_name: str | None, settings: Settings
) -> str | None:
    """The system prompt ``--system TEXT`` or ``--prompt NAME`` gives (not both)."""
    from .exits import USAGE, CLIExit
    from .prompt_store import load_prompt

    if prompt_name is None:
        return system
    if system is not None:
        raise CLIExit(USAGE, "use either --system or --prompt, not both")
    return load_prompt(settings.data_dir, prompt_name).text


def _data_dir_problem(exc: OSError, what: str) -> Exception:
    from .exits import CONFIG_ERROR, CLIExit

    return CLIExit(
        CONFIG_ERROR,
        f"cannot {what}: {exc.strerror or exc} (set AGENTCLI_DATA_DIR to a directory you can "
        "write, or agentcli doctor --fix)",
    )


@prompts_app.command("save")
@handle_errors
def prompts_save(
    name: NameArg,
    text: Annotated[
        str | None,
        typer.Argument(metavar="TEXT", help="The prompt; without it, standard input is read."),
    ] = None,
) -> None:
    """Save a prompt under NAME (an existing one is replaced)."""
    from rich.text import Text

    from .bounded_input import read_piped
    from .console import err_console
    from .exits import USAGE, CLIExit
    from .prompt_store import MAX_PROMPT_CHARS, save_prompt, validate_prompt_name
    from .runtime import load_cli_settings

    validate_prompt_name(name)  # before waiting on standard input
    if text is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise CLIExit(USAGE, "no prompt: give TEXT or pipe it to standard input")
        text = read_piped(sys.stdin, MAX_PROMPT_CHARS)
    settings = load_cli_settings()
    try:
        replaced = save_prompt(settings.data_dir, name, text)
    except OSError as exc:
        raise _data_dir_problem(exc, f"save prompt {name!r}") from None
    verb = "replaced" if replaced else "saved"
    err_console().print(Text(f"{verb} prompt {name} ({len(text):,} characters)", style="green"))


@prompts_app.command("list")
@handle_errors
def prompts_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The saved prompts: name, size and the start of the text."""
    from .prompt_store import read_prompts
    from .prompt_views import print_prompt_list
    from .runtime import load_cli_settings

    print_prompt_list(read_prompts(load_cli_settings().data_dir), json_output=json_output)


@prompts_app.command("show")
@handle_errors
def prompts_show(name: NameArg) -> None:
    """Print a saved prompt's text."""
    from .prompt_store import load_prompt
    from .runtime import load_cli_settings
    from .sanitize import sanitize

    text = sanitize(load_prompt(load_cli_settings().data_dir, name).text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@prompts_app.command("delete")
@handle_errors
def prompts_delete(name: NameArg) -> None:
    """Delete a saved prompt."""
    from rich.text import Text

    from .console import err_console
    from .prompt_store import delete_prompt
    from .runtime import load_cli_settings

    try:
        delete_prompt(load_cli_settings().data_dir, name)
    except OSError as exc:
        raise _data_dir_problem(exc, f"delete prompt {name!r}") from None
    err_console().print(Text(f"deleted prompt {name}", style="green"))
