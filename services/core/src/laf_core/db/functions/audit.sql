-- The audit chain (migration 0003 explains the chains). One definition of a
-- history row's canonical content, used to write and to verify; the standalone
-- scripts/verify-record.py rebuilds the same text from an exported record.

-- These three are STABLE, not IMMUTABLE: their bodies call STABLE functions
-- (json_build_array, convert_to, uuid || text), and PostgreSQL inlines a SQL function
-- only when it is declared no stricter than what it calls. Inlined, the trigger's
-- expressions are planned once per session; declared IMMUTABLE, each call ran through
-- the SQL-function executor and was planned anew: ~0.15 ms of a history row, a
-- quarter of a chain step's time in PostgreSQL.

-- Which chain a history row belongs to.
CREATE OR REPLACE FUNCTION laf_history_chain(p_task uuid, p_workflow uuid, p_instrument text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_task IS NOT NULL THEN 'task:' || p_task
                WHEN p_workflow IS NOT NULL THEN 'workflow:' || p_workflow
                ELSE 'instrument:' || p_instrument END
$$;

-- A JSON array in a fixed order; the time as microseconds since the epoch, so no
-- time zone or date style setting changes the text.
CREATE OR REPLACE FUNCTION laf_history_canonical(h history) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_array(h.seq, h.prev_hash, h.workflow_id, h.task_id, h.task_name, h.attempt,
                            h.from_status, h.to_status, h.actor, h.reason,
                            (extract(epoch FROM h.at) * 1000000)::bigint,
                            h.instrument_id, h.change, h.data)::text
$$;

CREATE OR REPLACE FUNCTION laf_history_hash(h history) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(laf_history_canonical(h), 'UTF8')), 'hex')
$$;

-- Before each history row is stored: the database's time, its place in its chain,
-- the previous row's hash and its own; the chain's head moves on. The writer holds
-- the subject's row lock already, so the head's lock is never waited for long.
CREATE OR REPLACE FUNCTION laf_history_chained() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_chain text := laf_history_chain(NEW.task_id, NEW.workflow_id, NEW.instrument_id);
    v_seq bigint;
    v_prev text;
BEGIN
    NEW.at := clock_timestamp();
    SELECT seq, hash INTO v_seq, v_prev FROM history_heads WHERE chain = v_chain FOR UPDATE;
    NEW.seq := coalesce(v_seq, 0) + 1;
    NEW.prev_hash := v_prev;
    NEW.hash := laf_history_hash(NEW);
    IF v_seq IS NULL THEN
        INSERT INTO history_heads (chain, seq, hash) VALUES (v_chain, NEW.seq, NEW.hash);
    ELSE
        UPDATE history_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = v_chain;
    END IF;
    RETURN NEW;
END
$$;

-- Every row of the chains asked for (all, or one workflow's: its own and its
-- tasks'), in chain order, with what verification compares: the recomputed hash,
-- the subject's current status and the chain's recorded head.
CREATE OR REPLACE FUNCTION laf_audit_rows(p_workflow uuid)
RETURNS TABLE (id bigint, workflow_id uuid, chain text, seq bigint, prev_hash text, hash text,
               recomputed text, from_status text, to_status text,
               head_seq bigint, head_hash text, subject_status text)
LANGUAGE sql STABLE AS $$
    SELECT h.id, h.workflow_id, c.chain, h.seq, h.prev_hash, h.hash,
           CASE WHEN h.hash IS NOT NULL THEN laf_history_hash(h) END,
           h.from_status, h.to_status, hh.seq, hh.hash,
           CASE WHEN h.task_id IS NOT NULL THEN (SELECT status FROM tasks WHERE tasks.id = h.task_id)
                WHEN h.workflow_id IS NOT NULL THEN (SELECT status FROM workflows w WHERE w.id = h.workflow_id)
                ELSE (SELECT status FROM instruments i WHERE i.id = h.instrument_id) END
    FROM history h
    CROSS JOIN LATERAL (SELECT laf_history_chain(h.task_id, h.workflow_id, h.instrument_id) AS chain) c
    LEFT JOIN history_heads hh ON hh.chain = c.chain
    WHERE p_workflow IS NULL OR h.workflow_id = p_workflow
    ORDER BY c.chain, h.id
$$;
