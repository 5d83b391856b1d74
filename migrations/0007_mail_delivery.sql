-- +goose Up
-- Mail delivery that staff can follow (/admin/mail): when each email was last
-- tried, and an index for the emails not yet sent (queued or failed), which
-- the page counts and lists oldest first without reading the sent ones.
ALTER TABLE credential_emails ADD COLUMN last_attempt_at timestamptz;
CREATE INDEX credential_emails_unsent ON credential_emails (created_at, id) WHERE state <> 'sent';

-- +goose Down
DROP INDEX credential_emails_unsent;
ALTER TABLE credential_emails DROP COLUMN last_attempt_at;
