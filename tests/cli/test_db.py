"""``agentcli db upgrade`` and ``agentcli db status`` against a real PostgreSQL database named by
``AGENTCLI_STORE_URL`` (with a password the server ignores, to prove it is never printed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.exits import CONFIG_ERROR, FAILED, SESSION_ERROR
from agentcli.stores.postgres import SCHEMA_VERSION

from ..servers._process import free_port
from ..servers.postgres import PostgresServer

SECRET = "s3cret"
runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def _assert_clean(result: Result) -> None:
    assert SECRET not in result.output
    assert SECRET not in result.stderr


@pytest.fixture(autouse=True)
def _cwd(workdir: Path) -> None:
    """Every test runs in a scratch directory with its own data directory."""


@pytest.fixture
def store_url(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = postgres_url.replace("://postgres@", f"://postgres:{SECRET}@")
    monkeypatch.setenv("AGENTCLI_STORE_URL", url)
    return url


def test_upgrade_then_nothing_to_do(
    store_url: str, postgres_server: PostgresServer, postgres_url: str
) -> None:
    first = invoke("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"from version 0 to {SCHEMA_VERSION}" in first.stdout
    assert "postgres:****@127.0.0.1" in first.stdout
    _assert_clean(first)
    versions = postgres_server.psql(
        "SELECT max(version) FROM agentcli_schema_version", database=postgres_url.rsplit("/")[-1]
    )
    assert versions.strip() == str(SCHEMA_VERSION)

    again = invoke("db", "upgrade")
    assert again.exit_code == 0, again.output
    assert f"already at version {SCHEMA_VERSION}: nothing to do" in again.stdout
    _assert_clean(again)


def test_status_before_and_after(store_url: str) -> None:
    before = invoke("db", "status")
    assert before.exit_code == FAILED
    assert f"at version 0; this agentcli needs {SCHEMA_VERSION}" in before.stdout
    assert "agentcli db upgrade" in before.stdout
    _assert_clean(before)

    assert invoke("db", "upgrade").exit_code == 0
    after = invoke("db", "status")
    assert after.exit_code == 0, after.output
    assert f"at version {SCHEMA_VERSION}, as this agentcli needs" in after.stdout
    _assert_clean(after)
    data = json.loads(invoke("db", "status", "--json").stdout)
    assert data["current"] == data["wanted"] == SCHEMA_VERSION
    assert data["up_to_date"] is True
    assert SECRET not in data["store"]


def test_the_store_refuses_until_upgraded(store_url: str) -> None:
    listing = invoke("sessions", "list")
    assert listing.exit_code == SESSION_ERROR
    assert "run `agentcli db upgrade`" in listing.stderr
    _assert_clean(listing)
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("sessions", "list").exit_code == 0


def test_an_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/db"
    monkeypatch.setenv("AGENTCLI_STORE_URL", url)
    for command in ("upgrade", "status"):
        result = invoke("db", command)
        assert result.exit_code == SESSION_ERROR
        assert "cannot connect to PostgreSQL at postgresql://postgres:****@127.0.0.1" in (
            result.stderr
        )
        _assert_clean(result)


def test_sqlite_has_nothing_to_do() -> None:
    for command in ("upgrade", "status"):
        result = invoke("db", command)
        assert result.exit_code == 0, result.output
        assert "SQLite store migrates its file itself" in result.stdout
        assert "nothing to do" in result.stdout
    data = json.loads(invoke("db", "status", "--json").stdout)
    assert data["store"] == "sqlite"


@pytest.mark.parametrize("url", ["memory://", f"redis://:{SECRET}@127.0.0.1:6379/0"])
def test_other_stores_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCLI_STORE_URL", url)
    result = invoke("db", "upgrade")
    assert result.exit_code == CONFIG_ERROR
    assert "works on a PostgreSQL store" in result.stderr
    _assert_clean(result)


def test_help_lists_the_db_commands() -> None:
    result = invoke("db", "--help")
    assert result.exit_code == 0
    assert "upgrade" in result.stdout
    assert "status" in result.stdout


def test_serve_refuses_a_schema_it_does_not_match_and_never_migrates_it(
    store_url: str, tmp_path: Path
) -> None:
    from ..server.serving import run_serve, serve_env, served

    env = serve_env(tmp_path / "data", AGENTCLI_STORE_URL=store_url)
    refused = run_serve(tmp_path, env, "--port", "0")
    assert refused.returncode == CONFIG_ERROR
    assert "run `agentcli db upgrade`" in refused.stderr
    assert SECRET not in refused.stderr + refused.stdout
    assert invoke("db", "status").exit_code == FAILED  # still not migrated: serve did not do it

    assert invoke("db", "upgrade").exit_code == 0
    with served(tmp_path, env) as server:
        assert server.url.startswith("http://127.0.0.1:")
