-- Claims look for due actions nobody holds, and separately for leases that ran out, each in an
-- index of its own. With the leased actions in the index of due ones, every claim stepped over
-- all the actions handed to the worker (thousands under load) to find the few it could take,
-- and draining a backlog cost milliseconds per claim.
DROP INDEX actions_due;
CREATE INDEX actions_due ON actions (next_attempt_at)
    WHERE status = 'pending' AND lease_until IS NULL;
CREATE INDEX actions_leased ON actions (lease_until)
    WHERE status = 'pending' AND lease_until IS NOT NULL;
