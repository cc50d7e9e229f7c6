-- agentcli session store, PostgreSQL schema version 1.
--
-- Applied by `agentcli db upgrade` (agentcli.stores.postgres.upgrade_schema) inside one
-- transaction, under a transaction-scoped advisory lock; the runner records the version in
-- agentcli_schema_version. Every table is prefixed, so the store can share a database.

-- One row per session: its counters, window marker and metadata. `last_seq` is the sequence
-- counter that appends bump (under this row's lock) to allocate `seq` numbers. `metadata` is
-- the JSON text of a dict, kept byte for byte (jsonb would reorder keys, turn 1e20 into an
-- integer and refuse \u0000). `owner` mirrors metadata->>'owner' for list_sessions(owner=).
CREATE TABLE agentcli_sessions (
    id           text PRIMARY KEY,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    last_seq     bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    tokens       bigint NOT NULL DEFAULT 0,
    window_start bigint NOT NULL DEFAULT 1,
    title        text,
    metadata     text NOT NULL DEFAULT '{}',
    owner        text,
    revision     text NOT NULL
);

-- list_sessions() newest first, the inactivity sweep, expire().
CREATE INDEX agentcli_sessions_by_update ON agentcli_sessions (updated_at);
-- list_sessions(owner=...) newest first.
CREATE INDEX agentcli_sessions_by_owner ON agentcli_sessions (owner, updated_at);

-- Append-only transcripts. `message` is pydantic's JSON of the message without its `seq`
-- (the store owns the number: it is this row's key, and is put back when the row is read).
-- No foreign key: the store deletes a session's messages itself, in the same transaction as
-- its row, and a foreign key would cost a lookup per inserted message.
CREATE TABLE agentcli_messages (
    session_id text NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 1),
    message    text NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- One row per session a turn holds (or held: a lapsed row is free to take). No foreign key:
-- a turn may lease a session that is not stored yet. Expiry is judged by the server's clock.
CREATE TABLE agentcli_leases (
    session_id text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at timestamptz NOT NULL
);
