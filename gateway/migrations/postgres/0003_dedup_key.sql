-- Inbound deduplication: the same delivery (same `webhook-id`, or the same raw body) to the same
-- tenant within the configured window is acknowledged without running plugins again.
ALTER TABLE events ADD COLUMN dedup_key TEXT;
CREATE INDEX events_dedup ON events (tenant, dedup_key, received_at);
