-- An Idempotency-Key belongs to the caller that sent it: two callers may use the same
-- key for different workflows, and neither sees the other's.
ALTER TABLE workflows DROP CONSTRAINT workflows_idempotency_key_key;
CREATE UNIQUE INDEX workflows_idempotency_per_caller ON workflows (created_by, idempotency_key);
