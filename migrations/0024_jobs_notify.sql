-- +goose Up
-- Workers sleep until told rather than poll: every statement that adds jobs
-- notifies channel laurel_jobs, which PostgreSQL delivers only when (and if)
-- its transaction commits. A statement trigger costs one notification per
-- INSERT, however many rows it adds.
-- +goose StatementBegin
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('laurel_jobs', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();

-- A scheduled task (reconciliation) is one job that re-enqueues itself when
-- done: schedule names it, and at most one row per schedule waits or runs,
-- across every Laurel process.
ALTER TABLE jobs ADD COLUMN schedule text;
CREATE UNIQUE INDEX jobs_schedule ON jobs (schedule) WHERE schedule IS NOT NULL AND state IN ('queued', 'running');

-- +goose Down
DROP INDEX jobs_schedule;
ALTER TABLE jobs DROP COLUMN schedule;
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION jobs_notify();
