"""``agentcli db upgrade`` and ``agentcli db status``: the PostgreSQL store's schema.

A PostgreSQL store never migrates itself (several versions of agentcli may share a database
while a deployment rolls out); these commands apply and report its numbered migrations. The
SQLite store migrates its file when it opens it, so for it there is nothing to do; other
stores have no schema.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .exits import CONFIG_ERROR, FAILED, CLIExit, handle_errors

__all__ = ["db_app", "schema_status", "upgrade_schema_command"]

db_app = typer.Typer(
    help="The PostgreSQL store's schema: apply migrations, show the version.",
    no_args_is_help=True,
)


@db_app.command("upgrade")
@handle_errors
def upgrade() -> None:
    """Apply pending migrations to AGENTCLI_STORE_URL's database (safe to run again)."""
    upgrade_schema_command()


@db_app.command("status")
@handle_errors
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The database's schema version and the one this agentcli needs (exit 1 if they differ)."""
    schema_status(json_output=json_output)


def _postgres_url() -> str | None:
    """The configured store's URL if it is PostgreSQL; ``None`` for SQLite; else refuse."""
    from .._redact import redact_url
    from .runtime import load_cli_settings

    url = load_cli_settings().resolved_store_url
    scheme = url.partition("://")[0].lower()
    if scheme in ("postgresql", "postgres"):
        return url
    if scheme == "sqlite":
        return None
    raise CLIExit(
        CONFIG_ERROR,
        f"the store {redact_url(url)} has no schema to manage: `agentcli db` works on a "
        "PostgreSQL store (set AGENTCLI_STORE_URL=postgresql://user@host/dbname)",
    )


def _say(text: str, style: str = "") -> None:
    from rich.text import Text

    from .console import out_console

    out_console().print(Text(text, style=style), soft_wrap=True)


_SQLITE = "the SQLite store migrates its file itself when it opens it: nothing to do"


def upgrade_schema_command() -> None:
    url = _postgres_url()
    if url is None:
        _say(_SQLITE)
        return
    import asyncio  # here, not at import: the app imports this module for --help too

    from .._redact import redact_url
    from ..stores.postgres import upgrade_schema

    done = asyncio.run(upgrade_schema(url))
    where = redact_url(url)
    if done.changed:
        _say(
            f"upgraded the schema at {where} from version {done.from_version} to {done.to_version}",
            "green",
        )
    else:
        _say(f"the schema at {where} is already at version {done.to_version}: nothing to do")


def schema_status(*, json_output: bool) -> None:
    url = _postgres_url()
    if url is None:
        if json_output:
            from .console import print_json

            print_json({"store": "sqlite", "current": None, "wanted": None, "up_to_date": True})
        else:
            _say(_SQLITE)
        return
    import asyncio

    from .._redact import redact_url
    from ..stores.postgres import SCHEMA_VERSION, read_version

    current = asyncio.run(read_version(url))
    where = redact_url(url)
    up_to_date = current == SCHEMA_VERSION
    if json_output:
        from .console import print_json

        print_json(
            {"store": where, "current": current, "wanted": SCHEMA_VERSION, "up_to_date": up_to_date}
        )
    elif up_to_date:
        _say(f"the schema at {where} is at version {current}, as this agentcli needs", "green")
    elif current < SCHEMA_VERSION:
        _say(
            f"the schema at {where} is at version {current}; this agentcli needs "
            f"{SCHEMA_VERSION}: run `agentcli db upgrade`",
            "yellow",
        )
    else:
        _say(
            f"the schema at {where} is at version {current}, newer than this agentcli knows "
            f"({SCHEMA_VERSION}): upgrade agentcli",
            "yellow",
        )
    if not up_to_date:
        raise CLIExit(FAILED)
