-- Per-tenant quotas count each tenant's actions waiting to be sent.
CREATE INDEX actions_pending_by_tenant ON actions (tenant, status);
