"""``agentcli sessions ...``: list, show, export, import, delete, prune."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rich.text import Text

from ..errors import SessionNotFoundError
from .console import err_console, out_console, print_json
from .exits import USAGE, CLIExit
from .runtime import find_session, load_cli_settings, open_cli_store
from .sanitize import sanitize, sanitize_inline
from .session_table import session_dict, sessions_table

if TYPE_CHECKING:
    from ..messages import Message
    from ..stores.base import SessionInfo, SessionStore

__all__ = [
    "delete_sessions",
    "export_session_command",
    "import_session_command",
    "list_sessions",
    "prune_cutoff",
    "prune_sessions",
    "show_session",
]

T = TypeVar("T")


def _with_store(work: Callable[[SessionStore], Awaitable[T]]) -> T:
    store = open_cli_store(load_cli_settings())

    async def go() -> T:
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def list_sessions(*, limit: int, json_output: bool, search: str | None = None) -> None:
    if search is not None:
        from .session_search import print_hits, search_sessions

        if not search.strip():
            raise CLIExit(USAGE, "--search needs some text to look for")
        hits, cut = _with_store(lambda store: search_sessions(store, search, limit=limit))
        print_hits(hits, search, truncated=cut, json_output=json_output)
        return
    infos = _with_store(lambda store: store.list_sessions(limit=limit))
    if json_output:
        print_json([session_dict(info) for info in infos])
    else:
        out_console().print(sessions_table(infos))


def show_session(session_id: str, *, json_output: bool, last: int | None = None) -> None:
    from ..request_options import stored_options
    from . import render

    async def work(store: SessionStore) -> tuple[SessionInfo, list[Message]]:
        info = await find_session(store, session_id)
        return info, await store.read(info.id, last=last)

    info, messages = _with_store(work)
    options = stored_options(info.metadata)  # the request options (-o, /set) sent every turn
    if json_output:
        from ..messages import messages_adapter

        dumped = messages_adapter.dump_python(messages, mode="json")
        print_json({"session": {**session_dict(info), "options": options}, "messages": dumped})
        return
    console = out_console()
    console.print(Text.assemble(("session ", "bold"), (sanitize_inline(info.id), "bold cyan")))
    if options:
        from .set_command import options_line

        console.print(options_line(options))
    system_prompt = _system_prompt(info)
    if system_prompt:  # what the agent is told before every turn: part of the conversation
        console.print(
            Text.assemble(("system prompt", "bold magenta"), "\n", sanitize(system_prompt))
        )
    for block in render.transcript(messages, info.window_start):
        console.print(block)


def _system_prompt(info: SessionInfo) -> str | None:
    from ..session.window_cache import SYSTEM_PROMPT_KEY

    prompt = info.metadata.get(SYSTEM_PROMPT_KEY)
    return prompt if isinstance(prompt, str) else None


def export_session_command(
    session_id: str, *, fmt: str | None, output: str | None, force: bool = False
) -> None:
    from ..export import export_session
    from .exporting import export_to_file, format_for

    try:
        chosen = format_for(fmt, output)
    except ValueError as exc:
        raise CLIExit(USAGE, str(exc)) from None
    to_stdout = output is None or str(output) == "-"

    async def work(store: SessionStore) -> str | Path:
        info = await find_session(store, session_id)
        if to_stdout:
            return await export_session(store, info.id, chosen)
        return await export_to_file(store, info.id, chosen, output, force=force)

    result = _with_store(work)
    if isinstance(result, Path):
        err_console().print(Text(f"exported to {result}", style="green"))
    else:
        # The export is made safe already; this keeps stdout safe whatever it holds.
        safe = sanitize(result)
        sys.stdout.write(safe if safe.endswith("\n") else safe + "\n")


def import_session_command(file: Path, *, session_id: str | None) -> None:
    from .._import_checks import read_limited

    try:  # bytes: the import says what is wrong with a file that is not UTF-8 JSON
        if str(file) == "-":
            data = read_limited(sys.stdin.buffer)
        else:
            with file.open("rb") as stream:  # never more than the limit: /dev/zero is refused
                data = read_limited(stream)
    except OSError as exc:
        raise CLIExit(USAGE, f"cannot read {file}: {exc.strerror or exc}") from None

    async def work(store: SessionStore) -> tuple[str, int]:
        from ..export import SessionExistsError, import_session

        try:
            new_id = await import_session(store, data, session_id=session_id)
        except SessionExistsError as exc:
            raise CLIExit(
                USAGE,
                f"session {exc.session_id!r} already exists: import it under another id "
                "with --id NEW_ID, or delete that session first (agentcli sessions delete)",
            ) from None
        info = await store.info(new_id)
        return new_id, info.message_count if info else 0

    new_id, count = _with_store(work)
    err_console().print(Text(f"imported session {new_id} ({count} messages)", style="green"))
    if not sys.stdout.isatty():
        print(new_id)


def delete_sessions(session_ids: list[str]) -> None:
    """Delete each session an id or unique prefix names (as ``show`` finds them). An ambiguous
    prefix stops everything before anything is deleted; unknown ones are reported at the end."""

    async def work(store: SessionStore) -> tuple[int, list[str]]:
        found: dict[str, None] = {}  # ids in order, each once however many prefixes name it
        missing = []
        for wanted in session_ids:
            try:
                found[(await find_session(store, wanted)).id] = None
            except SessionNotFoundError:
                missing.append(wanted)
        deleted = 0
        for session_id in found:
            if await store.delete(session_id):
                deleted += 1
            else:  # gone in the meantime
                missing.append(session_id)
        return deleted, missing

    deleted, missing = _with_store(work)
    if deleted:
        err_console().print(Text(f"deleted {deleted} session(s)", style="green"))
    if missing:
        raise SessionNotFoundError(", ".join(missing))


def prune_cutoff(age: timedelta, now: datetime) -> datetime:
    """Sessions last active before this are older than ``age``; no earlier than year 1."""
    return now - min(age, now - datetime.min.replace(tzinfo=UTC))


def prune_sessions(older_than: str, *, dry_run: bool, now: datetime | None = None) -> None:
    """Delete (or count, with ``dry_run``) sessions inactive for longer than ``older_than``,
    measured back from ``now`` (the current time unless given)."""
    from .durations import parse_duration

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise CLIExit(USAGE, str(exc)) from None
    before = prune_cutoff(age, datetime.now(UTC) if now is None else now)

    async def work(store: SessionStore) -> int:
        if dry_run:
            return sum(1 for s in await store.list_sessions() if s.updated_at < before)
        return await store.expire(before)

    count = _with_store(work)
    verb = "would delete" if dry_run else "deleted"
    err_console().print(
        Text(f"{verb} {count} session(s) inactive for more than {older_than}", style="green")
    )
