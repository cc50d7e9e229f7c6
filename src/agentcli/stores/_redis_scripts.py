"""The Lua of the Redis store: one script per write, each atomic on the server.

A script sees its session frozen: nothing else runs while it does, and the server's clock stands
still for its duration, so every key it gives an expiry expires at the same millisecond.

Keys and arguments (the key layout is explained in ``stores/redis.py``):

- ``KEYS`` are a session's own keys (``meta``, ``log``, ``lease``, ``spend``), all under one
  hash tag, or (``INDEX``, ``PRUNE``) index keys, all under another, or (``ADD_SPEND``) a spend
  counter of its own: each script runs on one Cluster node.
- ``ARGV`` carries an index prefix (``<prefix>:{idx}:``) on a single server, where a script may
  also update the sorted-set indexes in the same atomic step; on a Cluster the indexes live in
  another slot, the prefix is ``""`` and the client updates them afterwards with ``INDEX``.
- Times are microseconds since the epoch from the server's ``TIME``, kept as decimal strings
  (Lua numbers are doubles: exact up to 2**53, which microseconds reach in the year 2255; but
  ``tostring`` would print them in exponent form).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

__all__ = [
    "ADD_SPEND",
    "APPEND",
    "DELETE",
    "INDEX",
    "LEASE_ACQUIRE",
    "LEASE_RELEASE",
    "LEASE_RENEW",
    "PRUNE",
    "READ_SEQS",
    "SET_STATE",
    "WRITE_SESSION",
    "Script",
]

# Shared by the scripts that write a session: the clock, the expiry, the index.
_PRELUDE = """
local function now_us(meta)
  local t = redis.call('TIME')
  local now = t[1] .. string.format('%06d', tonumber(t[2]))
  -- Never before the session's last activity, even if the server's clock stepped back.
  local last = redis.call('HGET', meta, 'updated')
  if last and tonumber(last) > tonumber(now) then return last, last end
  return now, last
end

local function expire(ttl_ms, ...)
  for _, key in ipairs({...}) do
    if ttl_ms == '0' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ttl_ms) end
  end
end

local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end

-- The index keys are derived here, so on a single server the index moves in the same step.
local function index(prefix, sid, score, old_owner, new_owner)
  if prefix == '' then return end
  if score then redis.call('ZADD', prefix .. 'all', 'GT', score, sid)
  else redis.call('ZREM', prefix .. 'all', sid) end
  if old_owner and (old_owner ~= new_owner or not score) then
    redis.call('ZREM', prefix .. 'owner:' .. hex(old_owner), sid)
  end
  if new_owner and score then
    redis.call('ZADD', prefix .. 'owner:' .. hex(new_owner), 'GT', score, sid)
  end
end

local function create(meta, log, now)
  -- A key of a half-expired session must not leak into a new one under the same id.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'created', now, 'seq', 0, 'tokens', 0, 'window', 1)
end
"""

APPEND_LUA = (
    _PRELUDE
    + """
-- KEYS: meta, log, spend. ARGV: ttl_ms, expected_last_seq or '', revision for a new session,
-- 't' .. title or '', tokens, index prefix, session id, then each message's JSON after its '{'.
local meta, log = KEYS[1], KEYS[2]
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= seq then return {0, seq} end
local now, existed = now_us(meta)
local owner = false
if existed then owner = redis.call('HGET', meta, 'owner')
else create(meta, log, now); redis.call('HSET', meta, 'rev', ARGV[3]) end
local n = #ARGV - 7
-- In chunks: unpack() of too many values overflows Lua's stack.
for first = 1, n, 1000 do
  local chunk = {}
  for i = first, math.min(n, first + 999) do
    chunk[#chunk + 1] = '{"seq":' .. (seq + i) .. ',' .. ARGV[7 + i]
  end
  redis.call('RPUSH', log, unpack(chunk))
end
redis.call('HSET', meta, 'seq', seq + n, 'updated', now)
redis.call('HINCRBY', meta, 'tokens', ARGV[5])
if ARGV[4] ~= '' then redis.call('HSETNX', meta, 'title', string.sub(ARGV[4], 2)) end
expire(ARGV[1], meta, log, KEYS[3])
index(ARGV[6], ARGV[7], now, owner, owner)
return {1, seq, now, owner}
"""
)

SET_STATE_LUA = (
    _PRELUDE
    + """
-- KEYS: meta, log, spend. ARGV: ttl_ms, revision, window_start or '', owner change ('' none,
-- '-' cleared, '+' .. owner), index prefix, session id, then metadata field/JSON pairs.
local meta, log = KEYS[1], KEYS[2]
local now, existed = now_us(meta)
local old_owner = false
if existed then old_owner = redis.call('HGET', meta, 'owner') else create(meta, log, now) end
redis.call('HSET', meta, 'updated', now, 'rev', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', meta, 'window', ARGV[3]) end
for i = 7, #ARGV, 2 do redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
local new_owner = old_owner
if ARGV[4] == '-' then
  redis.call('HDEL', meta, 'owner'); new_owner = false
elseif ARGV[4] ~= '' then
  new_owner = string.sub(ARGV[4], 2); redis.call('HSET', meta, 'owner', new_owner)
end
expire(ARGV[1], meta, log, KEYS[3])
index(ARGV[5], ARGV[6], now, old_owner, new_owner)
return {now, old_owner, new_owner}
"""
)

WRITE_SESSION_LUA = (
    _PRELUDE
    + """
-- KEYS: meta, log, lease, spend. ARGV: ttl_ms, '1' to replace an existing session, revision,
-- 't' .. title or '', tokens, window_start, '+' .. owner or '', index prefix, session id,
-- how many metadata arguments follow, the metadata field/JSON pairs, then each message's JSON
-- after its '{'. Returns {0} if the session exists and is kept, else {1, now, old owner}.
-- Every check comes before the first write: a script that fails part way keeps what it wrote.
local meta, log = KEYS[1], KEYS[2]
local existed = redis.call('EXISTS', meta) == 1
if existed and ARGV[2] ~= '1' then return {0} end
local now = now_us(meta)
local old_owner = false
if existed then
  old_owner = redis.call('HGET', meta, 'owner')
  redis.call('DEL', meta, log, KEYS[3], KEYS[4])  -- as DELETE does
else
  redis.call('DEL', log)  -- a key of a half-expired session must not leak into this one
end
local fields = tonumber(ARGV[10])
local first = 11 + fields
local n = #ARGV - first + 1
redis.call('HSET', meta, 'created', now, 'updated', now, 'seq', n, 'tokens', ARGV[5],
  'window', ARGV[6], 'rev', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', meta, 'title', string.sub(ARGV[4], 2)) end
local new_owner = false
if ARGV[7] ~= '' then
  new_owner = string.sub(ARGV[7], 2); redis.call('HSET', meta, 'owner', new_owner)
end
for i = 11, 10 + fields, 2 do redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
for start = 1, n, 1000 do
  local chunk = {}
  for i = start, math.min(n, start + 999) do
    chunk[#chunk + 1] = '{"seq":' .. i .. ',' .. ARGV[first + i - 1]
  end
  redis.call('RPUSH', log, unpack(chunk))
end
expire(ARGV[1], meta, log, KEYS[4])
index(ARGV[8], ARGV[9], now, old_owner, new_owner)
return {1, now, old_owner}
"""
)

DELETE_LUA = (
    _PRELUDE
    + """
-- KEYS: meta, log, lease, spend. ARGV: cutoff ('' to delete whatever its age), index prefix, id.
-- Returns {1 if it existed, its owner, 1 if kept because it was active since the cutoff}.
local updated = redis.call('HGET', KEYS[1], 'updated')
if ARGV[1] ~= '' and updated and tonumber(updated) >= tonumber(ARGV[1]) then
  return {0, false, 1}
end
local owner = redis.call('HGET', KEYS[1], 'owner')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
index(ARGV[2], ARGV[3], false, owner, owner)
return {updated and 1 or 0, owner, 0}
"""
)

INDEX_LUA = """
-- On a Cluster, after a session's script: KEYS are the global index, the owner indexes to
-- leave, then those to join (all under one hash tag). ARGV: session id, score ('' to leave
-- the global index too), how many owner indexes to leave.
local sid, score, leave = ARGV[1], ARGV[2], tonumber(ARGV[3])
if score == '' then redis.call('ZREM', KEYS[1], sid)
else redis.call('ZADD', KEYS[1], 'GT', score, sid) end
for i = 2, 1 + leave do redis.call('ZREM', KEYS[i], sid) end
for i = 2 + leave, #KEYS do redis.call('ZADD', KEYS[i], 'GT', score, sid) end
return 1
"""

PRUNE_LUA = """
-- KEYS: an index. ARGV: session id, score, ... Removes each entry whose score is still the
-- one given (a session written again since has a higher score, and keeps its entry).
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return 1
"""

LEASE_ACQUIRE_LUA = """
-- KEYS: lease, meta. ARGV: token, ttl_ms. Returns {1, last_seq, revision} when taken (also
-- when the token already holds it), else {0, milliseconds the holder has left}.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local state = redis.call('HMGET', KEYS[2], 'seq', 'rev')
return {1, state[1] or '0', state[2] or ''}
"""

LEASE_RENEW_LUA = """
-- KEYS: lease. ARGV: token, ttl_ms. 1 if the token still held it (now extended), else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

LEASE_RELEASE_LUA = """
-- KEYS: lease. ARGV: token. Deletes the lease only if the token holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

ADD_SPEND_LUA = """
-- KEYS: the counter, then for a session's counter the session's meta. ARGV: USD, the ttl in
-- ms of another counter ('' never), the store's session ttl in ms ('0' never). A session's
-- counter expires with its session (the writes of the session renew it with its other keys);
-- one added before its session exists gets the session ttl. Returns the new total.
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if #KEYS == 2 then
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then redis.call('PEXPIRE', KEYS[1], left)
  elseif left == -1 or ARGV[3] == '0' then redis.call('PERSIST', KEYS[1])
  else redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
elseif ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2])
else redis.call('PERSIST', KEYS[1]) end
return total
"""

READ_SEQS_LUA = """
-- KEYS: log. ARGV: sequence numbers, ascending. The messages found, in that order.
local found = {}
for i = 1, #ARGV do
  local message = redis.call('LINDEX', KEYS[1], tonumber(ARGV[i]) - 1)
  if message then found[#found + 1] = message end
end
return found
"""


class Script:
    """A Lua script run by its SHA-1 (``EVALSHA``: the text is sent once per server, not with
    every call), loaded again if the server answers ``NOSCRIPT`` (after a restart, or on a
    Cluster node that had not seen it). Unlike redis-py's ``Script``, it is not tied to one
    client: the store makes its client lazily, and may replace it."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self,
        client: Redis | RedisCluster,
        keys: Sequence[str],
        args: Sequence[str | bytes | int],
    ) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # Not run (the server did not know the script): loading it and calling again
            # cannot run it twice. On a Cluster, SCRIPT LOAD goes to every primary.
            await client.script_load(self.text)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


APPEND = Script(APPEND_LUA)
SET_STATE = Script(SET_STATE_LUA)
DELETE = Script(DELETE_LUA)
WRITE_SESSION = Script(WRITE_SESSION_LUA)
INDEX = Script(INDEX_LUA)
PRUNE = Script(PRUNE_LUA)
LEASE_ACQUIRE = Script(LEASE_ACQUIRE_LUA)
LEASE_RENEW = Script(LEASE_RENEW_LUA)
LEASE_RELEASE = Script(LEASE_RELEASE_LUA)
READ_SEQS = Script(READ_SEQS_LUA)
ADD_SPEND = Script(ADD_SPEND_LUA)
