-- +goose Up
-- A publish confirmed for a later date and time: the exact credentials
-- confirmed, who confirmed them (the audit actor at run time) and the
-- outcome. The credential_publish_schedule job (payload {"schedule_id"})
-- runs it at run_at; cancelling flips state, so the job finds nothing to do.
CREATE TABLE publish_schedules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The groups of the credentials, so each group page can show it.
    group_ids      bigint[] NOT NULL,
    credential_ids text[] NOT NULL,
    run_at         timestamptz NOT NULL,
    actor          text NOT NULL,
    state          text NOT NULL DEFAULT 'scheduled'
                   CHECK (state IN ('scheduled', 'done', 'cancelled', 'failed')),
    published      integer NOT NULL DEFAULT 0,
    skipped        integer NOT NULL DEFAULT 0,
    error          text NOT NULL DEFAULT '',
    cancelled_by   text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    finished_at    timestamptz
);
CREATE INDEX publish_schedules_waiting ON publish_schedules USING gin (group_ids) WHERE state = 'scheduled';

-- +goose Down
DROP TABLE publish_schedules;
