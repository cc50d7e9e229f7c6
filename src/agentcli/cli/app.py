"""The Typer application: commands and options only. Each command's work lives in its own
module, imported when that command runs, so ``agentcli --help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._version import __version__
from .cmd_db import db_app
from .cmd_models import models
from .cmd_prompts import PromptOpt, prompts_app
from .exits import handle_errors
from .file_options import ExtractOpt, FilesOpt
from .help_style import HelpGroup
from .request_flags import RequestOpt
from .session_options import LastOpt, SearchOpt
from .text_options import MarkdownOpt

__all__ = ["app"]

app = typer.Typer(
    name="agentcli",
    help="Build and run LLM agents: chat in the terminal, run one-shot prompts, "
    "keep sessions that resume.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # never print locals (they may hold keys)
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=HelpGroup,  # help without Typer's <bool> and <str> placeholders
)
sessions_app = typer.Typer(
    help="List, show, export, import, delete and prune saved sessions.", no_args_is_help=True
)
app.add_typer(sessions_app, name="sessions")
app.add_typer(db_app, name="db")
app.add_typer(prompts_app, name="prompts")

# Options shared by chat and run.
AgentOpt = Annotated[
    str | None,
    typer.Option(
        "--agent",
        "-a",
        metavar="SPEC",
        help="echo, openai:MODEL, anthropic:MODEL, ollama:MODEL, package.module:Class or "
        "path/to/file.py:Class (default: DEFAULT_MODEL, else echo)",
    ),
]
SessionOpt = Annotated[
    str | None,
    typer.Option("--session", "-s", metavar="ID", help="Use this session (new if unknown)."),
]
ContinueOpt = Annotated[
    bool, typer.Option("--continue", "-c", help="Continue the most recent session.")
]
SystemOpt = Annotated[
    str | None, typer.Option("--system", metavar="TEXT", help="Set the session's system prompt.")
]
EphemeralOpt = Annotated[
    bool, typer.Option("--ephemeral", help="Keep the session in memory only; save nothing.")
]
McpOpt = Annotated[
    list[str] | None,
    typer.Option("--mcp", metavar="SPEC", help="An MCP server for provider agents (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _version(value: bool) -> None:
    if value:
        print(f"agentcli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Build and run LLM agents."""


@app.command()
@handle_errors
def chat(
    agent: AgentOpt = None,
    session: SessionOpt = None,
    cont: ContinueOpt = False,
    system: SystemOpt = None,
    saved_prompt: PromptOpt = None,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Show each answer once it is complete.")
    ] = False,
    ephemeral: EphemeralOpt = False,
    mcp: McpOpt = None,
    option: RequestOpt = None,
    files: FilesOpt = None,
    markdown: MarkdownOpt = None,
) -> None:
    """Chat in the terminal. /help inside lists the slash commands."""
    from .cmd_chat import chat_command

    chat_command(
        agent=agent,
        session=session,
        cont=cont,
        system=system,
        saved_prompt=saved_prompt,
        stream=not no_stream,
        ephemeral=ephemeral,
        mcp=mcp or [],
        request_options=option or [],
        files=files or [],
        markdown=markdown,
    )


@app.command()
@handle_errors
def run(
    prompt: Annotated[
        str | None,
        typer.Argument(metavar="PROMPT", help="The prompt. Piped standard input is appended."),
    ] = None,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    cont: ContinueOpt = False,
    system: SystemOpt = None,
    saved_prompt: PromptOpt = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the response and its metadata as JSON.")
    ] = False,
    ephemeral: EphemeralOpt = False,
    mcp: McpOpt = None,
    option: RequestOpt = None,
    files: FilesOpt = None,
    extract: ExtractOpt = False,
    markdown: MarkdownOpt = None,
) -> None:
    """Answer one prompt and exit: 0 ok, 2 usage, 3 agent error, 4 config, 5 session or store,
    6 session busy, 7 cost budget spent, 129 terminal closed, 130 interrupted, 143 SIGTERM."""
    from .cmd_run import run_command

    run_command(
        prompt=prompt,
        agent=agent,
        session=session,
        cont=cont,
        system=system,
        saved_prompt=saved_prompt,
        json_output=json_output,
        ephemeral=ephemeral,
        mcp=mcp or [],
        request_options=option or [],
        files=files or [],
        extract=extract,
        markdown=markdown,
    )


@sessions_app.command("list")
@handle_errors
def sessions_list(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 50,
    search: SearchOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Sessions, most recently active first."""
    from .cmd_sessions import list_sessions

    list_sessions(limit=limit, json_output=json_output, search=search)


@sessions_app.command("show")
@handle_errors
def sessions_show(
    session_id: Annotated[str, typer.Argument(metavar="ID", help="Id or unique prefix.")],
    last: LastOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """A session's transcript (or its last N messages), with the window marker."""
    from .cmd_sessions import show_session

    show_session(session_id, json_output=json_output, last=last)


@sessions_app.command("export")
@handle_errors
def sessions_export(
    session_id: Annotated[str, typer.Argument(metavar="ID", help="Id or unique prefix.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="md|json", help="Markdown (the default) or JSON."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write here; a directory (or a path ending in /, created) gets a named file.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing file (never a symlink).")
    ] = False,
) -> None:
    """Export a session as Markdown or JSON (to standard output without -o)."""
    from .cmd_sessions import export_session_command

    export_session_command(session_id, fmt=fmt, output=output, force=force)


@sessions_app.command("import")
@handle_errors
def sessions_import(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A JSON export ('-' for stdin).")],
    session_id: Annotated[
        str | None, typer.Option("--id", metavar="ID", help="Store it under this id.")
    ] = None,
) -> None:
    """Import a session from a JSON export."""
    from .cmd_sessions import import_session_command

    import_session_command(file, session_id=session_id)


@sessions_app.command("delete")
@handle_errors
def sessions_delete(
    session_ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Ids or unique prefixes.")
    ],
) -> None:
    """Delete sessions and their transcripts."""
    from .cmd_sessions import delete_sessions

    delete_sessions(session_ids)


@sessions_app.command("prune")
@handle_errors
def sessions_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", metavar="AGE", help="e.g. 30d, 12h, 90m, 2w.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
) -> None:
    """Delete sessions inactive for longer than AGE."""
    from .cmd_sessions import prune_sessions

    prune_sessions(older_than, dry_run=dry_run)


@app.command()
@handle_errors
def serve(
    agent: Annotated[
        list[str] | None,
        typer.Option(
            "--agent",
            "-a",
            metavar="SPEC",
            help="An agent to serve, under its spec as the model name (repeatable; default: "
            "DEFAULT_MODEL, else echo).",
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="ADDRESS", help="Listen here; without API keys, loopback only."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", "-p", metavar="PORT", min=0, max=65535, help="0 picks a free port."),
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option("--workers", "-w", metavar="N", min=1, max=256, help="Worker processes."),
    ] = 1,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            help="sqlite:////path/file.db or memory:// (default: AGENTCLI_STORE_URL, else "
            "SQLite in the data directory).",
        ),
    ] = None,
    ephemeral: Annotated[
        bool, typer.Option("--ephemeral", help="Keep sessions in memory only (one worker).")
    ] = False,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Allow a non-loopback address without API keys."),
    ] = False,
) -> None:
    """Serve agents over HTTP: REST, SSE and the OpenAI APIs. Keys: AGENTCLI_API_KEYS."""
    from .cmd_serve import serve_command

    serve_command(
        agents=agent or [],
        host=host,
        port=port,
        workers=workers,
        store=store,
        ephemeral=ephemeral,
        no_auth=no_auth,
    )


@app.command()
@handle_errors
def agents(json_output: JsonOpt = False) -> None:
    """The built-in agent specs and whether each is ready to use."""
    from .cmd_info import agents_command

    agents_command(json_output=json_output)


app.command()(models)


@app.command()
@handle_errors
def config(json_output: JsonOpt = False) -> None:
    """The effective settings (secrets are never shown)."""
    from .cmd_info import config_command

    config_command(json_output=json_output)


@app.command()
@handle_errors
def doctor(
    fix: Annotated[
        bool, typer.Option("--fix", help="Make the data directory and its files private to you.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Check keys, the store and its integrity, the tokenizer and the data directory and
    its permissions; suggest fixes."""
    from .cmd_info import doctor_command

    doctor_command(fix=fix, json_output=json_output)
