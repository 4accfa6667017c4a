-- Deduplication decided by the store: one row per (tenant, key), the last event accepted with
-- it. Storing an event claims its key unless the row is younger than the dedup window, so two
-- deliveries of one event can never both be stored, without a look-up per request.
CREATE TABLE dedup_keys (
    tenant TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, dedup_key)
);
INSERT INTO dedup_keys (tenant, dedup_key, event_id, received_at)
    SELECT tenant, dedup_key, MAX(id), MAX(received_at) FROM events
    WHERE dedup_key IS NOT NULL AND dedup_key NOT LIKE 'replay:%'
    GROUP BY tenant, dedup_key;

-- Look-ups go to dedup_keys now: the index on events only cost every insert a page.
DROP INDEX events_dedup;
-- Most actions never wait for a response: index only the ones that do.
DROP INDEX actions_continuations;
CREATE INDEX actions_continuations ON actions (continuation_status)
    WHERE continuation_status IS NOT NULL;
-- The indexes on action status hold only the rows that are looked for by status (waiting to be
-- sent, failed for good), so their upkeep on every attempt and the counts read every second
-- follow the backlog rather than the whole history kept.
DROP INDEX actions_due;
CREATE INDEX actions_due ON actions (next_attempt_at) WHERE status = 'pending';
DROP INDEX actions_pending_by_tenant;
CREATE INDEX actions_pending_by_tenant ON actions (tenant) WHERE status = 'pending';
CREATE INDEX actions_failed ON actions (created_at) WHERE status = 'failed';
