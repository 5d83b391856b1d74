-- +goose Up
-- Search on the review and published lists: a substring of the recipient's
-- name or email, case-insensitive, over a group of a million credentials.
-- pg_trgm is a trusted extension (PostgreSQL ≥ 13): the database owner may
-- create it without superuser rights. A trigram index answers "contains"
-- (not only "starts with"), which is what staff type: a surname, part of an
-- email address.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX credentials_search ON credentials
    USING gin ((lower(recipient_name || ' ' || recipient_email)) gin_trgm_ops);

-- +goose Down
DROP INDEX credentials_search;
