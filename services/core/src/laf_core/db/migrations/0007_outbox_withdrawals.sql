-- Events a transition withdraws in its own transaction are found by index, not by
-- reading the whole outbox (which, with autovacuum off, keeps every deleted row):
-- the queued event of a task a result claims for its runner (laf_finish_and_claim),
-- and a submitted workflow's pending event once its submit started it
-- (laf_start_submitted). Partial, so other events pay nothing.
CREATE INDEX outbox_task_queued ON outbox (task_id, attempt) WHERE event_type = 'task.queued';
CREATE INDEX outbox_workflow_pending ON outbox (workflow_id) WHERE event_type = 'workflow.pending';
