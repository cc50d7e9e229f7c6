"""The Lua of the service's shared state in Redis (``redis_turns.py``, ``limits.py``): one
script per step, each atomic on the server. A script's keys share one hash tag, so each runs
on one Cluster node. Numbers cross as decimal strings."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

__all__ = ["APPEND", "LOST", "OPEN", "RATE", "RELEASE_RUNNING", "RENEW_RUNNING", "Script"]


class Script:
    """A script run by its SHA-1 (``EVALSHA``), loaded again when the server answers
    ``NOSCRIPT`` (after a restart, or on a Cluster node that had not seen it)."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, client: Redis | RedisCluster, *, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        from redis.exceptions import NoScriptError

        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # Not run: loading it and calling again cannot run it twice.
            await client.script_load(self.text)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


# KEYS: record, alive. ARGV: record ttl ms, alive ttl ms, then field/value pairs.
OPEN = Script("""
redis.call('HSET', KEYS[1], 'status', 'running', 'last', 0, unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
""")

# KEYS: record, events, alive, cancel. ARGV: maxlen, record ttl ms, alive ttl ms, ended ttl ms,
# '1' to end the turn, then number/payload pairs. Numbers already written are skipped (a retry
# after a lost answer writes nothing twice). -1: not running (lost, or expired); else whether
# a cancel was asked for.
APPEND = Script("""
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return -1 end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
for i = 6, #ARGV, 2 do
  if tonumber(ARGV[i]) > last then
    redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], ARGV[i] .. '-0', 'e', ARGV[i + 1])
    last = tonumber(ARGV[i])
  end
end
redis.call('HSET', KEYS[1], 'last', last)
local ttl = ARGV[2]
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'status', 'ended')
  redis.call('DEL', KEYS[3])
  ttl = ARGV[4]
else
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return redis.call('EXISTS', KEYS[4])
""")

# KEYS: record, events, alive. ARGV: maxlen, ended ttl ms, the replica_lost event. The turn
# ends with that event if it is still running and its heartbeat has lapsed; returns its number.
LOST = Script("""
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local n = tonumber(redis.call('HGET', KEYS[1], 'last')) + 1
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], n .. '-0', 'e', ARGV[3])
redis.call('HSET', KEYS[1], 'status', 'lost', 'last', n)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return n
""")

# KEYS: the session's running-turn key. ARGV: the turn id (, ttl ms). Only the turn's own.
RENEW_RUNNING = Script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
""")
RELEASE_RUNNING = Script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""")

# A per-key rate limit, GCRA (a token bucket kept as one number: the theoretical arrival
# time of the next request, in microseconds of the server's clock). KEYS: the bucket.
# ARGV: microseconds per request, the burst (requests). Returns 0 if allowed, else the
# microseconds until a request would be.
RATE = Script("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - interval * tonumber(ARGV[2])
if allowed_at > now then return allowed_at - now end
local ttl_ms = math.ceil((next_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl_ms)
return 0
""")
