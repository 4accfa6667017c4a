-- Plugin state (a key-value store per tenant and plugin) and chained actions: an HTTP action may
-- ask for its response, which is stored and then handed to the plugin's `on-response`.
-- (PostgreSQL twin of sqlite/0002.)

CREATE TABLE plugin_state (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin, key)
);

-- The opaque text the plugin set; NULL when it did not ask for the response.
ALTER TABLE actions ADD COLUMN continuation TEXT;
-- NULL (no continuation), 'waiting' (request not done), 'pending' (response stored, plugin not
-- yet called), 'done' or 'error'.
ALTER TABLE actions ADD COLUMN continuation_status TEXT;
ALTER TABLE actions ADD COLUMN continuation_lease_until BIGINT;
ALTER TABLE actions ADD COLUMN response_status BIGINT;
ALTER TABLE actions ADD COLUMN response_headers TEXT;
ALTER TABLE actions ADD COLUMN response_body BYTEA;
-- The action whose response produced this one, for continuations.
ALTER TABLE actions ADD COLUMN parent_action_id TEXT REFERENCES actions (id);
CREATE INDEX actions_continuations ON actions (continuation_status);

-- 'handle' for the event, 'on_response' for a continuation (then action_id says of which action).
ALTER TABLE plugin_runs ADD COLUMN phase TEXT NOT NULL DEFAULT 'handle';
ALTER TABLE plugin_runs ADD COLUMN action_id TEXT REFERENCES actions (id);
