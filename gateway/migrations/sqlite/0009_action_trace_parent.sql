-- The trace context (a W3C `traceparent`) of the event an action belongs to, when traces are on:
-- each delivery attempt is a span of the event's trace, also after a restart.
ALTER TABLE actions ADD COLUMN trace_parent TEXT;
