-- +goose Up
-- A bulk change (revoke, resend, expiry, delete) of more than 10,000
-- credentials is answered at once and carried out by a job in chunks, each
-- its own transaction; its run records what was asked (the request, up to
-- the credentials that existed then), how many, and how far it is (the last
-- seq done). Owned by package issuance.
CREATE TABLE bulk_runs (
    id          bigserial PRIMARY KEY,
    actor       text NOT NULL,
    request     jsonb NOT NULL,
    max_seq     bigint NOT NULL,
    after_seq   bigint NOT NULL DEFAULT 0,
    total       integer NOT NULL CHECK (total >= 0),
    done        integer NOT NULL DEFAULT 0 CHECK (done >= 0),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);

-- +goose Down
DROP TABLE bulk_runs;
