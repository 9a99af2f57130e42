-- Who may do what: people (with a password), and the tokens people, scripts and
-- services present. Token secrets are stored as SHA-256 digests, never in clear.

CREATE TABLE users (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    password_hash text,                          -- argon2id; NULL: cannot log in with a password
    roles         text[] NOT NULL DEFAULT '{}'
                  CHECK (roles <@ ARRAY['viewer', 'operator', 'reviewer', 'admin', 'runner']),
    disabled      boolean NOT NULL DEFAULT false,
    failed_logins int NOT NULL DEFAULT 0,        -- since the last successful login
    locked_until  timestamptz,                   -- too many failures: no login until then
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE tokens (
    id           uuid PRIMARY KEY,
    digest       text NOT NULL UNIQUE,           -- sha256 of the secret the holder presents
    kind         text NOT NULL CHECK (kind IN ('session', 'api')),
    name         text NOT NULL,                  -- what it is for ("session" for a login)
    owner        text NOT NULL REFERENCES users (name),
    roles        text[] NOT NULL,                -- at most the owner's, when it was made
    expires_at   timestamptz,                    -- NULL: until revoked
    revoked_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX tokens_by_owner ON tokens (owner, created_at DESC);

-- Instrument changes join the one audit trail: a history row is about a workflow
-- (and maybe one of its tasks) or about an instrument.
ALTER TABLE history ALTER COLUMN workflow_id DROP NOT NULL;
ALTER TABLE history ADD COLUMN instrument_id text;
ALTER TABLE history ADD COLUMN change jsonb;  -- an instrument's changed fields: {field: [old, new]}
ALTER TABLE history ADD CONSTRAINT history_subject
    CHECK (workflow_id IS NOT NULL OR instrument_id IS NOT NULL);
CREATE INDEX history_by_instrument ON history (instrument_id, id) WHERE instrument_id IS NOT NULL;
