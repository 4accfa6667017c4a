-- Every accepted event, with the plugins that ran on it, the actions they returned and every
-- delivery attempt. Times are Unix milliseconds.

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    event_type TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant, received_at);

CREATE TABLE plugin_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL REFERENCES events (id),
    plugin TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
    error TEXT,
    duration_us INTEGER NOT NULL
);
CREATE INDEX plugin_runs_by_event ON plugin_runs (event_id);

CREATE TABLE actions (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events (id),
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    -- http: sent by the worker; link_answer: answered to Soda in the HTTP response.
    kind TEXT NOT NULL CHECK (kind IN ('http', 'link_answer')),
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX actions_due ON actions (status, next_attempt_at);
CREATE INDEX actions_by_event ON actions (event_id);

CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id TEXT NOT NULL REFERENCES actions (id),
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT
);
CREATE INDEX attempts_by_action ON attempts (action_id);
