"""Offline token counting: the o200k data ships in a package and nothing is fetched."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from agentcli.tokens import MESSAGE_OVERHEAD_TOKENS, count_message_tokens, count_tokens


def test_known_counts() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    # Special-token text is counted as text, never as a control token.
    assert count_tokens("<|endoftext|>") > 1
    assert count_message_tokens("hello world") == 2 + MESSAGE_OVERHEAD_TOKENS


def test_counting_needs_no_network_and_no_cache(tmp_path: Path) -> None:
    """A fresh interpreter with sockets disabled and an empty tiktoken cache still counts."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network use in an offline test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from agentcli.tokens import count_tokens
        print(count_tokens("The quick brown fox jumps over the lazy dog."))
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"),
        "AGENTCLI_CACHE_DIR": str(tmp_path / "ours"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "10"
    assert not (tmp_path / "empty-cache").exists()


def _count_in_new_process(cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            # The tokenizer itself (short ASCII alone would be counted from the rank index).
            "from agentcli.tokens import count_tokens, get_encoding; get_encoding(); "
            "print(count_tokens('a b c'))",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "AGENTCLI_CACHE_DIR": str(cache)},
        check=True,
    )


def test_the_parsed_table_is_cached_and_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _count_in_new_process(cache).stdout.strip() == "3"
    (cached,) = cache.glob("o200k-*.ranks")
    good = cached.read_bytes()
    assert _count_in_new_process(cache).stdout.strip() == "3"  # read from the cache

    cached.write_bytes(good[:-10] + b"0123456789")  # damaged: checksum no longer matches
    assert _count_in_new_process(cache).stdout.strip() == "3"
    assert cached.read_bytes() == good  # rebuilt from the package data


def test_an_unwritable_cache_directory_is_not_an_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert _count_in_new_process(blocked / "cache").stdout.strip() == "3"
