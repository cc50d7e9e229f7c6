"""Numeric options in store URLs are range-checked when the URL is read: a timeout of 1e400,
nan or -1 is refused naming the option and its range, never left to wait forever."""

from __future__ import annotations

import pytest

from agentcli.errors import ConfigError
from agentcli.stores import open_store

BAD_SECONDS = ["1e400", "-1", "nan", "inf", "-inf", "1e9", "abc", "", "0x10"]
BAD_WHOLE = ["-1", "1e400", "nan", "1.5", "abc", "", "9" * 40, "٣"]  # ٣: a non-ASCII digit


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_sqlite_timeout(value: str) -> None:
    with pytest.raises(ConfigError, match=r"timeout=.* must be a number of seconds from 0 to 3600"):
        open_store(f"sqlite:///x.db?timeout={value}")


@pytest.mark.parametrize("value", ["0", "0.5", "3600"])
def test_sqlite_timeout_in_range(value: str) -> None:
    assert open_store(f"sqlite:///x.db?timeout={value}") is not None


@pytest.mark.parametrize("option", ["socket_timeout", "socket_connect_timeout"])
@pytest.mark.parametrize("value", [*BAD_SECONDS, "0"])
def test_redis_timeouts(option: str, value: str) -> None:
    pytest.importorskip("redis")
    with pytest.raises(ConfigError, match=rf"{option}=.* must be a number of seconds"):
        open_store(f"redis://:hunter2@127.0.0.1:6379/0?{option}={value}")


@pytest.mark.parametrize("value", BAD_WHOLE)
def test_redis_health_check_interval(value: str) -> None:
    pytest.importorskip("redis")
    with pytest.raises(ConfigError, match=r"health_check_interval=.* from 0 to 86400") as caught:
        open_store(f"redis://:hunter2@127.0.0.1:6379/0?health_check_interval={value}")
    assert "hunter2" not in str(caught.value)


def test_redis_options_in_range() -> None:
    pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0?socket_timeout=2.5&socket_connect_timeout=1"
    assert open_store(url + "&health_check_interval=30") is not None


@pytest.mark.parametrize(
    "option", ["connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count"]
)
@pytest.mark.parametrize("value", BAD_WHOLE)
def test_postgres_numbers(option: str, value: str) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigError, match=rf"{option}=.* must be a whole number") as caught:
        open_store(f"postgresql://me:hunter2@127.0.0.1/db?{option}={value}")
    assert "hunter2" not in str(caught.value)


def test_postgres_numbers_in_range() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://127.0.0.1/db?connect_timeout=5&keepalives_idle=60&tcp_user_timeout=9000"
    assert open_store(url) is not None
