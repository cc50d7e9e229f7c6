"""``agentcli serve``: the web service on uvicorn, with safe defaults.

With no API keys configured it listens on loopback only; another address is refused (exit 4)
unless ``--no-auth`` says that is intended. One line on standard error says where it listens,
which agents it serves and whether keys are required (never the keys themselves). SIGTERM and
SIGINT drain the running turns first (``server/shutdown.py``); the process then exits 0.
``SENTRY_DSN`` and an OTLP endpoint turn on error reporting and tracing (``observability``).
"""

from __future__ import annotations

import ipaddress
import sys
from typing import TYPE_CHECKING

from .. import observability
from ..errors import MissingDependencyError
from .exits import CONFIG_ERROR, FAILED, USAGE, CLIExit
from .runtime import MEMORY_URL, build_agent, load_cli_settings, open_cli_store
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    import socket

    from ..agent import AgentInterface
    from ..config import Settings

__all__ = ["serve_command", "startup_line"]

_KEY_SETTINGS = "AGENTCLI_API_KEYS or AGENTCLI_API_KEYS_FILE"


def serve_command(
    *,
    agents: list[str],
    host: str,
    port: int,
    workers: int,
    store: str | None,
    ephemeral: bool,
    no_auth: bool,
) -> None:
    _require_server_extra()
    from ..server.auth import KeyRing
    from ..server.runner import with_store

    settings = load_cli_settings()
    keys = KeyRing.from_settings(settings)  # a bad key or key file fails here (exit 4)
    observability.check(settings)  # SENTRY_DSN or an OTLP endpoint without its extra: exit 4
    # Before the store: an exposed server without keys is refused whatever the store is.
    _check_exposure(host, keys_configured=keys.enabled, no_auth=no_auth)
    _check_agents(agents, settings)  # no SDK or key: exit 4 now, not at each request
    settings = with_store(settings, _store_url(settings, store, ephemeral, workers))
    specs = _specs(agents, settings)
    built = {spec: build_agent(spec, settings) for spec in specs}  # a bad spec fails here
    sock = _bind(host, port)
    try:
        from ..server.runner import listen_url

        line = startup_line(
            listen_url(sock),
            specs,
            workers=workers,
            keys=len(keys),
            no_auth=no_auth,
            store=settings.redacted()["store_url"],
            shared=_shared_state(settings),
        )
        if workers == 1:
            _serve_here(settings, built, sock, line)
        else:
            _supervise(specs, settings, sock, workers, line)
    finally:
        sock.close()


def _require_server_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("agentcli serve", "server") from exc


def _store_url(settings: Settings, store: str | None, ephemeral: bool, workers: int) -> str:
    if ephemeral and store is not None:
        raise CLIExit(USAGE, "use either --ephemeral or --store, not both")
    url = MEMORY_URL if ephemeral else store or settings.resolved_store_url
    if workers > 1 and url.lower().startswith("memory:"):
        what = "--ephemeral keeps" if ephemeral else f"the store {url} keeps"
        raise CLIExit(
            CONFIG_ERROR,
            f"{what} sessions in one process's memory, so {workers} workers would not share "
            "them: use --workers 1, or a store they share (--store sqlite:///FILE or "
            "AGENTCLI_STORE_URL)",
        )
    from ..server.runner import with_store

    open_cli_store(with_store(settings, url))  # an unknown scheme fails here; opens nothing
    if url.partition("://")[0].lower() in ("postgresql", "postgres"):
        _check_postgres_schema(url)
    return url


def _check_postgres_schema(url: str) -> None:
    """Refuse to serve on a PostgreSQL schema this version does not match (never migrate it
    here: replicas of two versions may share the database during a rollout). A database that
    does not answer yet is only a warning: ``/readiness`` reports it until it does."""
    import asyncio

    from ..errors import StoreError
    from ..stores._postgres_schema import SCHEMA_VERSION, outdated_error, read_version

    try:
        version = asyncio.run(read_version(url, connect_timeout=5))
    except StoreError as exc:
        print(f"agentcli serve: warning: {sanitize_inline(str(exc))}", file=sys.stderr)
        return
    if version != SCHEMA_VERSION:
        raise CLIExit(CONFIG_ERROR, str(outdated_error(url, version)))


def _is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_exposure(host: str, *, keys_configured: bool, no_auth: bool) -> None:
    if no_auth and keys_configured:
        raise CLIExit(
            CONFIG_ERROR,
            f"--no-auth, but API keys are configured ({_KEY_SETTINGS}): drop one or the other",
        )
    if keys_configured or no_auth or _is_loopback(host):
        return
    raise CLIExit(
        CONFIG_ERROR,
        f"refusing to listen on {host} without API keys: anyone who can reach it could use "
        f"your agents. Set {_KEY_SETTINGS}, listen on 127.0.0.1, or pass --no-auth if that "
        "is what you want",
    )


def _check_agents(agents: list[str], settings: Settings) -> None:
    """Check every agent the service would use as ``chat`` checks its own: the ones served
    (``--agent``, else ``DEFAULT_MODEL``) and the summary agent. An unknown spec, a missing
    SDK or an unset key fails here (exit 4), naming what to set; nothing is imported."""
    from ..agents.factory import check_spec
    from ..errors import ConfigError
    from .runtime import choose_spec

    if not agents:
        choose_spec(None, settings)  # the default: its error names DEFAULT_MODEL=...
    for spec in dict.fromkeys(spec.strip() for spec in agents):
        check_spec(spec, settings)
    summary = settings.summary_agent
    if summary:
        try:
            check_spec(summary, settings)
        except ConfigError as exc:
            raise ConfigError(f"AGENTCLI_SUMMARY_AGENT={summary}: {exc}") from None


def _specs(agents: list[str], settings: Settings) -> list[str]:
    from ..agents.factory import default_spec

    chosen = [spec.strip() for spec in agents] or [default_spec(settings)]
    return list(dict.fromkeys(chosen))  # each model name once, in the order given


def _bind(host: str, port: int) -> socket.socket:
    from ..server.runner import bind

    try:
        return bind(host, port)
    except OSError as exc:
        raise CLIExit(
            CONFIG_ERROR, f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None


def _shared_state(settings: Settings) -> str | None:
    """Where the replicas share turns and rate limits (redacted), if anywhere. A bad URL or
    a missing ``redis`` extra fails here (exit 4); nothing connects."""
    from .._redact import redact_url
    from ..server.shared import open_shared, shared_redis_url

    url = shared_redis_url(settings)
    if url is None:
        return None
    open_shared(settings)  # checks only: its connection is made at the first call
    return redact_url(url)


def startup_line(
    url: str,
    specs: list[str],
    *,
    workers: int,
    keys: int,
    no_auth: bool,
    store: str,
    shared: str | None = None,
) -> str:
    """The one line ``serve`` prints once it listens (key counts, never keys). ``shared``:
    the Redis that turns and rate limits are shared through, when there is one."""
    if keys:
        auth = f"API keys required ({keys} configured)"
    elif no_auth:
        auth = "no API key required (--no-auth: anyone who can reach it can use it)"
    else:
        auth = "no API key required (loopback only)"
    plural = "" if workers == 1 else "s"
    sharing = f"; shared state: {shared}" if shared is not None and shared != store else ""
    return (
        f"agentcli serve: listening on {url} ({workers} worker{plural}); "
        f"models: {', '.join(specs)}; store: {store}{sharing}; {auth}"
    )


def _announce(line: str) -> None:
    print(sanitize_inline(line, 2000), file=sys.stderr, flush=True)


def _serve_here(
    settings: Settings, agents: dict[str, AgentInterface], sock: socket.socket, line: str
) -> None:
    from ..server.app import create_app
    from ..server.runner import STARTUP_FAILURE, run_server

    app = create_app(settings, agents=agents)
    try:
        run_server(app, settings, sock, on_listen=lambda _: _announce(line))
    except SystemExit as exc:
        if exc.code == STARTUP_FAILURE:
            raise CLIExit(FAILED, "the server did not start (the error is above)") from None
        raise


def _supervise(
    specs: list[str], settings: Settings, sock: socket.socket, workers: int, line: str
) -> None:
    from ..server.runner import Supervisor, WorkerSpec

    store = settings.store_url.get_secret_value() if settings.store_url else None
    supervisor = Supervisor(WorkerSpec(tuple(specs), store), sock, workers)
    code = supervisor.run(on_ready=lambda: _announce(line))
    if supervisor.failed_to_start:
        raise CLIExit(FAILED, "a worker did not start (its error is above)")
    if code:
        raise CLIExit(FAILED, "a worker did not stop cleanly (see above)")
