"""Bearer API keys: each request names its key; each session belongs to the key that made it.

Keys come from ``AGENTCLI_API_KEYS`` (comma-separated) and/or ``AGENTCLI_API_KEYS_FILE`` (one
per line, ``#`` comments: a mounted secret). A key is never kept or logged as such: requests
are matched against SHA-256 digests in constant time, and a key is known by a short id derived
from its digest (what sessions record as their owner, and what logs show).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from .errors import ApiError

__all__ = ["ANONYMOUS", "KeyRing", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: ``key_id`` is a short, non-secret id of their key."""

    key_id: str


ANONYMOUS = Principal("anonymous")  # every caller, when no keys are configured


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    """The configured keys, as digests."""

    __slots__ = ("_digests",)

    def __init__(self, keys: list[str]) -> None:
        cleaned = [k.strip() for k in keys if k.strip()]
        for key in cleaned:
            if len(key) < 16:
                raise ConfigError(
                    "every API key must be at least 16 characters (AGENTCLI_API_KEYS / "
                    "AGENTCLI_API_KEYS_FILE); make them with: python -c "
                    "'import secrets; print(secrets.token_urlsafe(32))'"
                )
        self._digests = [_digest(k) for k in cleaned]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        keys: list[str] = []
        if settings.api_keys is not None:
            keys += settings.api_keys.get_secret_value().split(",")
        if settings.api_keys_file is not None:
            keys += _read_key_file(settings.api_keys_file)
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header, or a 401."""
        if not self._digests:
            return ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("send your API key as 'Authorization: Bearer KEY'")
        offered = _digest(token.strip())
        found: bytes | None = None
        for digest in self._digests:  # every digest is compared: the time does not tell which
            if hmac.compare_digest(offered, digest):
                found = digest
        if found is None:
            raise _unauthorized("the API key is not valid")
        return Principal("key-" + found.hex()[:12])

    def __repr__(self) -> str:
        return f"KeyRing({len(self._digests)} keys)"


def _read_key_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read AGENTCLI_API_KEYS_FILE {path}: {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "invalid_api_key", message, "authentication_error")
