-- +goose Up
-- Search in every script: each credential stores its search key (its
-- recipient's name and email folded and spelt in ASCII by the application,
-- issuance.SearchKey), so that a trigram index finds "Соколов", "Wiśniewski"
-- typed without its accent and a two-character Chinese name whatever the
-- database's locale (pg_trgm under C ignores every non-ASCII letter, and
-- lower() leaves them alone). The key is computed in Go, so existing rows
-- get theirs from the credential_search_keys job, in batches, enqueued here
-- when there are any. The old index on lower(name || ' ' || email) goes.
ALTER TABLE credentials ADD COLUMN search_key text;
-- A search of "%surname%" is answered either from the trigram index (rare
-- matches) or by walking the list's order until a page is full (common
-- ones); the planner picks by how many rows it expects to match, which it
-- reads from this column's histogram: a fine one (1000 buckets) tells a
-- surname that 5,000 of a million people share from one that 50 do.
ALTER TABLE credentials ALTER COLUMN search_key SET STATISTICS 1000;
CREATE INDEX credentials_search_key ON credentials USING gin (search_key gin_trgm_ops);
DROP INDEX credentials_search;
INSERT INTO jobs (kind, payload)
    SELECT 'credential_search_keys', '{}' WHERE EXISTS (SELECT 1 FROM credentials);

-- +goose Down
CREATE INDEX credentials_search ON credentials
    USING gin ((lower(recipient_name || ' ' || recipient_email)) gin_trgm_ops);
DROP INDEX credentials_search_key;
ALTER TABLE credentials DROP COLUMN search_key;
