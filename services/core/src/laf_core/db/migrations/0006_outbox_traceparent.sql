-- The span that wrote each event (W3C `traceparent`), copied from the writer's
-- `laf.traceparent` setting by the outbox functions; NULL when tracing is off.
ALTER TABLE outbox ADD COLUMN traceparent text;
