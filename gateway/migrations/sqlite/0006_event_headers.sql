-- The audit trail keeps what arrived with each event: its HTTP headers as a JSON array of
-- [name, value] pairs, credentials redacted (see `ingress::audit_headers`). NULL for events
-- stored before this column existed.
ALTER TABLE events ADD COLUMN headers TEXT;
