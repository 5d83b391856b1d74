-- +goose Up
-- A large publish (more than 10,000 credentials) is answered at once and
-- carried out by a job in chunks, each its own transaction; its run records
-- what was asked (the selection, up to the credentials that existed then),
-- how many, and how far it is, so the group's page shows "Sending: 41,200
-- of 100,000". A publish of 1,000 or more that ran at once is recorded as a
-- finished run, for the same figure. Owned by package issuance.
CREATE TABLE publish_runs (
    id          bigserial PRIMARY KEY,
    group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    actor       text NOT NULL,
    selection   jsonb NOT NULL,
    max_seq     bigint NOT NULL,
    total       integer NOT NULL CHECK (total >= 0),
    published   integer NOT NULL DEFAULT 0 CHECK (published >= 0),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX publish_runs_group ON publish_runs (group_id, id DESC);

-- +goose Down
DROP TABLE publish_runs;
