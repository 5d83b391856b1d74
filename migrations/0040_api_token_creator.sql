-- +goose Up
-- An API token belongs to the account that created it on /admin/tokens:
-- while that account is disabled its tokens are refused, and deleting the
-- account deletes them (ON DELETE CASCADE), so neither outlives the person.
-- Tokens from `laurel token create`, and those made before this column,
-- have none and keep working.

ALTER TABLE api_tokens ADD COLUMN created_by bigint REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_created_by ON api_tokens (created_by) WHERE created_by IS NOT NULL;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN created_by;
