"""Exact o200k counts of short ASCII text without building the tokenizer.

Building ``tiktoken.Encoding`` takes about 0.2 s (the 200k ranks loaded, then hashed again in
Rust), most of ``agentcli run "hi"``; counting one short message needs a few dozen of those
ranks. So the ranks are also kept as an index file in the cache directory, a hash table laid
out as bytes that is read in one go and looked up in place, never parsed as a whole. A count is
tiktoken's own algorithm: split the text with o200k's pattern, a piece that is a token counts 1,
any other is merged pair by pair, lowest rank first.

Only ASCII text takes this path: there o200k's Unicode classes reduce to the ASCII ones below
(``\\s`` is Unicode White_Space: the six ASCII spaces, not ``\\x1c``-``\\x1f`` that Python's
``\\s`` adds). Anything else, or a long piece, is left to the real tokenizer (``None``).
"""

from __future__ import annotations

import array
import hashlib
import re
import struct
import sys
import zlib
from collections.abc import Callable, Mapping

__all__ = ["ASCII_PATTERN", "MAX_PIECE", "RankIndex", "build_index", "count_ascii"]

MAX_PIECE = 48  # bytes: merging a piece costs its length squared in Python; longer ones wait
_BUCKETS = 1 << 18  # about 0.8 tokens a bucket
_MAGIC = b"o2xi"
_HEADER = struct.Struct("<4sII")  # magic, buckets, the rank's width in bytes
_RANK_BYTES = 3  # ranks are below 2**24
_DIGEST = 32

_WS = r" \t\n\x0b\x0c\r"  # Unicode White_Space within ASCII
_CONTRACTION = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
# o200k's pattern (tokens.O200K_PATTERN) with each Unicode class narrowed to ASCII: \p{L} is
# [A-Za-z], \p{Lu} [A-Z], \p{Ll} [a-z], \p{N} [0-9]; \p{Lt}, \p{Lm}, \p{Lo} and \p{M} are empty.
ASCII_PATTERN = "|".join(
    [
        rf"[^\r\nA-Za-z0-9]?[A-Z]*[a-z]+{_CONTRACTION}",
        rf"[^\r\nA-Za-z0-9]?[A-Z]+[a-z]*{_CONTRACTION}",
        r"[0-9]{1,3}",
        rf" ?[^{_WS}A-Za-z0-9]+[\r\n/]*",
        rf"[{_WS}]*[\r\n]+",
        rf"[{_WS}]+(?![^{_WS}])",
        rf"[{_WS}]+",
    ]
)
_split: Callable[[str], list[str]] = re.compile(ASCII_PATTERN).findall


def build_index(ranks: Mapping[bytes, int]) -> bytes:
    """The index file's bytes: a SHA-256 of the rest, a header, bucket offsets, records."""
    buckets: list[list[bytes]] = [[] for _ in range(_BUCKETS)]
    for token, rank in ranks.items():
        record = bytes((len(token),)) + token + rank.to_bytes(_RANK_BYTES, "little")
        buckets[zlib.crc32(token) % _BUCKETS].append(record)
    offsets = array.array("I", [0])
    records = bytearray()
    for bucket in buckets:
        for record in bucket:
            records += record
        offsets.append(len(records))
    body = _HEADER.pack(_MAGIC, _BUCKETS, _RANK_BYTES) + offsets.tobytes() + bytes(records)
    return hashlib.sha256(body).digest() + body


class RankIndex:
    """Ranks looked up in an index file's bytes (``ValueError`` if they are not one)."""

    __slots__ = ("_offsets", "_records")

    def __init__(self, data: bytes) -> None:
        body = memoryview(data)[_DIGEST:]
        if len(data) <= _DIGEST + _HEADER.size or hashlib.sha256(body).digest() != data[:32]:
            raise ValueError("not an intact index file")
        magic, buckets, width = _HEADER.unpack_from(body)
        if magic != _MAGIC or buckets != _BUCKETS or width != _RANK_BYTES:
            raise ValueError("an index file of another layout")
        start = _DIGEST + _HEADER.size
        end = start + (buckets + 1) * 4
        self._offsets = memoryview(data)[start:end].cast("I")  # native order: see index_tag
        self._records = data[end:]

    def rank(self, token: bytes) -> int | None:
        bucket = zlib.crc32(token) % _BUCKETS
        position, end = self._offsets[bucket], self._offsets[bucket + 1]
        records = self._records
        while position < end:
            size = records[position]
            first = position + 1
            if records[first : first + size] == token:
                return int.from_bytes(records[first + size : first + size + _RANK_BYTES], "little")
            position = first + size + _RANK_BYTES
        return None


def index_tag() -> str:
    """What a machine must share for an index file to be read as written."""
    return f"{sys.byteorder[0]}{array.array('I').itemsize}"


def count_ascii(text: str, index: RankIndex) -> int | None:
    """The o200k token count of ASCII ``text`` (special tokens as ordinary text), or ``None``
    when a piece is too long to merge here."""
    count = 0
    lookup = index.rank
    for piece in _split(text):
        encoded = piece.encode("ascii")
        if lookup(encoded) is not None:
            count += 1
            continue
        if len(encoded) > MAX_PIECE:
            return None
        count += _merged_parts(encoded, lookup)
    return count


def _merged_parts(piece: bytes, lookup: Callable[[bytes], int | None]) -> int:
    """How many tokens byte-pair merging leaves of ``piece`` (tiktoken's ``_byte_pair_merge``:
    the adjacent pair of lowest rank merges first, the leftmost of equals)."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best = -1
        best_rank = 0
        for i in range(len(parts) - 1):
            rank = lookup(parts[i] + parts[i + 1])
            if rank is not None and (best < 0 or rank < best_rank):
                best, best_rank = i, rank
        if best < 0:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    return len(parts)
