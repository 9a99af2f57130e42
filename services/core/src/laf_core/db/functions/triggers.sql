-- Which change runs which function (outbox.sql). Applied after the functions.

CREATE OR REPLACE TRIGGER workflows_inserted AFTER INSERT ON workflows
    FOR EACH ROW EXECUTE FUNCTION laf_workflow_changed();
CREATE OR REPLACE TRIGGER workflows_status_changed AFTER UPDATE OF status ON workflows
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION laf_workflow_changed();
CREATE OR REPLACE TRIGGER tasks_status_changed AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION laf_tasks_changed();
CREATE OR REPLACE TRIGGER instruments_changed AFTER INSERT OR UPDATE OF status, capacity ON instruments
    FOR EACH ROW EXECUTE FUNCTION laf_instrument_changed();
CREATE OR REPLACE TRIGGER instruments_audited AFTER INSERT OR UPDATE ON instruments
    FOR EACH ROW EXECUTE FUNCTION laf_instrument_audited();
CREATE OR REPLACE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION laf_history_is_append_only();
CREATE OR REPLACE TRIGGER history_chained BEFORE INSERT ON history
    FOR EACH ROW EXECUTE FUNCTION laf_history_chained();
CREATE OR REPLACE TRIGGER tokens_changed AFTER UPDATE OF revoked_at, roles, expires_at, owner OR DELETE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION laf_credentials_changed();
CREATE OR REPLACE TRIGGER users_changed AFTER UPDATE OF roles, disabled, name OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION laf_credentials_changed();
