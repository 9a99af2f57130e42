-- Credentials (tokens, users): the API remembers whom a token belongs to for a few
-- seconds (laf_api.credential_cache); a revoked token, a disabled or re-roled user
-- rings laf_credentials so that every API process forgets at once.

CREATE OR REPLACE FUNCTION laf_credentials_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('laf_credentials', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
