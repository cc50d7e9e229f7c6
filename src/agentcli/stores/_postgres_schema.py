"""The PostgreSQL schema: numbered SQL migrations, applied on request, checked on first use.

Migrations are the files ``migrations/postgres/NNNN_name.sql`` shipped in the package, applied
in order by :func:`upgrade_schema` (``agentcli db upgrade``). Each run takes a
transaction-scoped advisory lock first, so two upgrades at once queue up instead of racing,
then applies what is missing in one transaction and records each version in
``agentcli_schema_version``. A store never migrates by itself: it checks the version once
and refuses a database that is behind (or ahead), naming the command to run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import TupleRow

from ..errors import StoreError
from ._postgres_pool import CONNECT_HINT, cause, psycopg_error, shown

__all__ = [
    "SCHEMA_VERSION",
    "Migration",
    "SchemaUpgrade",
    "check_schema",
    "current_version",
    "migrations",
    "read_version",
    "upgrade_schema",
]

VERSION_TABLE = "agentcli_schema_version"
# pg_advisory_xact_lock(key): any constant both runs agree on ("agentcli" in ASCII).
_LOCK_KEY = 0x6167656E74636C69
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class SchemaUpgrade:
    """What :func:`upgrade_schema` did: the version found and the version left."""

    from_version: int
    to_version: int

    @property
    def changed(self) -> bool:
        return self.to_version != self.from_version


@cache
def migrations() -> tuple[Migration, ...]:
    """The shipped migrations, in order; their numbers must run 1, 2, 3 ... without a gap."""
    folder = resources.files("agentcli.stores").joinpath("migrations", "postgres")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"the PostgreSQL migrations shipped are not numbered 1..N: {found}")
    return tuple(found)


SCHEMA_VERSION = len(migrations())
"""The schema version this agentcli needs (the number of the last migration)."""


async def current_version(conn: psycopg.AsyncConnection[TupleRow]) -> int:
    """The database's schema version (0 when nothing was ever applied). Reads only."""
    try:
        cur = await conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}")  # noqa: S608
    except pg_errors.UndefinedTable:
        if not conn.autocommit:
            await conn.rollback()
        return 0
    row = await cur.fetchone()
    return int(row[0]) if row and isinstance(row[0], int) else 0


def outdated_error(url: str, version: int) -> StoreError:
    where = shown(url)
    if version > SCHEMA_VERSION:
        return StoreError(
            f"the PostgreSQL schema at {where} is at version {version}, newer than this "
            f"agentcli knows (version {SCHEMA_VERSION}): upgrade agentcli"
        )
    return StoreError(
        f"the PostgreSQL schema at {where} is at version {version}; this agentcli needs "
        f"{SCHEMA_VERSION}: run `agentcli db upgrade`"
    )


async def check_schema(conn: psycopg.AsyncConnection[TupleRow], url: str) -> None:
    """Raise :class:`StoreError` unless the database is at exactly :data:`SCHEMA_VERSION`."""
    version = await current_version(conn)
    if version != SCHEMA_VERSION:
        raise outdated_error(url, version)


async def upgrade_schema(url: str, *, connect_timeout: int = 10) -> SchemaUpgrade:
    """Bring the database at ``url`` to :data:`SCHEMA_VERSION`; safe to run again, and from
    several processes at once. Raises :class:`StoreError` for a newer schema or a failure."""
    conn = await _connect(url, connect_timeout)
    try:
        async with conn.transaction():
            return await _upgrade(conn, url)
    except psycopg.Error as exc:
        what = f"cannot migrate the PostgreSQL schema at {shown(url)}"
        failed = psycopg_error(url, exc, what), cause(exc, url)
    finally:
        await conn.close()
    raise failed[0] from failed[1]  # out of the except clause: see _connect


async def _upgrade(conn: psycopg.AsyncConnection[TupleRow], url: str) -> SchemaUpgrade:
    # Under the lock before anything else: two "CREATE TABLE IF NOT EXISTS" at once can fail.
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
        "version integer PRIMARY KEY, name text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())"
    )
    found = await current_version(conn)
    if found > SCHEMA_VERSION:
        raise outdated_error(url, found)
    for migration in migrations()[found:]:
        # Without parameters psycopg sends the simple protocol: a file of many statements.
        await conn.execute(migration.sql.encode())
        await conn.execute(
            f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, %s)",  # noqa: S608
            (migration.version, migration.name),
        )
    return SchemaUpgrade(found, SCHEMA_VERSION)


async def read_version(url: str, *, connect_timeout: int = 10) -> int:
    """The schema version of the database at ``url`` (for ``agentcli db status``)."""
    conn = await _connect(url, connect_timeout)
    try:
        return await current_version(conn)
    except psycopg.Error as exc:
        what = f"cannot read the PostgreSQL schema version at {shown(url)}"
        failed = psycopg_error(url, exc, what), cause(exc, url)
    finally:
        await conn.close()
    raise failed[0] from failed[1]


async def _connect(url: str, connect_timeout: int) -> psycopg.AsyncConnection[TupleRow]:
    try:
        return await psycopg.AsyncConnection.connect(
            url, autocommit=True, prepare_threshold=None, connect_timeout=connect_timeout
        )
    except psycopg.Error as exc:
        what = f"cannot connect to PostgreSQL at {shown(url)}"
        failed = psycopg_error(url, exc, what, "; " + CONNECT_HINT), cause(exc, url)
    # Raised out of the except clause, so a psycopg error whose text holds a secret is not
    # even the context of ours (``from None`` would only hide it).
    raise failed[0] from failed[1]
