-- A replay re-runs a stored event through the plugins loaded now; it is stored as a new event
-- that points at the original.
ALTER TABLE events ADD COLUMN replay_of TEXT REFERENCES events (id);
