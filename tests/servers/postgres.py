"""The machine's PostgreSQL binaries on loopback, in a temporary directory.

PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user
(``runuser``), in a directory that user owns. No fsync: the tests need no durability from it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._process import free_port, wait_until

__all__ = ["INSTALL_POSTGRES", "PostgresServer", "running_postgres"]

INSTALL_POSTGRES = "apt-get install -y --no-install-recommends postgresql-15"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _runuser() -> str | None:
    """``runuser`` lives in sbin, which a bare ``PATH=/usr/bin:/bin`` leaves out."""
    found = shutil.which("runuser")
    if found:
        return found
    return next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if Path(p).exists()), None)


@dataclass
class PostgresServer:
    """One PostgreSQL cluster; ``new_database()`` gives a test its own, empty database."""

    bindir: Path
    directory: Path
    port: int
    as_user: str | None  # run the binaries as this user (when we are root)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        prefix = [_runuser() or "runuser", "-u", self.as_user, "--"] if self.as_user else []
        return subprocess.run([*prefix, *args], check=check, capture_output=True, timeout=120)

    def initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.directory / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )
        wait_until(self.ready, f"PostgreSQL answering on port {self.port}")

    def ready(self) -> bool:
        probe = self._run(
            str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), check=False
        )
        return probe.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """Stop it (``immediate`` is a crash: no shutdown checkpoint, clients cut off)."""
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-m",
            mode,
            "stop",
            check=False,
        )

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)

    def psql(self, sql: str, *, database: str = "postgres", check: bool = True) -> str:
        done = self._run(
            str(self.bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
            check=check,
        )
        return done.stdout.decode()


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL is not installed ({INSTALL_POSTGRES})")
    as_user = None
    if os.geteuid() == 0:
        if _runuser() is None:
            pytest.skip("PostgreSQL will not run as root and runuser is missing")
        as_user = "postgres"
    directory = Path(tempfile.mkdtemp(prefix="agentcli-pg-"))
    try:
        if as_user is not None:
            shutil.chown(directory, user=as_user)
        server = PostgresServer(bindir, directory, free_port(), as_user)
        server.initdb()
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
