-- agentcli session store, PostgreSQL schema version 2: spend counters for cost budgets.
--
-- One row per counter, in USD. A session's counter (scope 'session:<id>') has no expiry of its
-- own: the store deletes it with its session, and reads it as gone while its session has
-- expired. Any other counter (an API key's per day: 'key:<key id>:<YYYY-MM-DD>') lapses at
-- `expires_at` (NULL: never); lapsed rows are deleted by the store's sweep and by expire().
CREATE TABLE agentcli_spend (
    scope      text PRIMARY KEY,
    usd        double precision NOT NULL,
    expires_at timestamptz
);

-- The sweep of lapsed counters.
CREATE INDEX agentcli_spend_by_expiry ON agentcli_spend (expires_at)
    WHERE expires_at IS NOT NULL;
