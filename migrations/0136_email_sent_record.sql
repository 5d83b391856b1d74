-- +goose Up
-- Recording an email sent (one UPDATE per message, right after the mail
-- server accepted it, before the next is sent: what a crash repeats at most)
-- changes its state. An index on state (this partial one) made PostgreSQL
-- write a new index entry in every index for each of those updates instead
-- of updating the row in place (HOT): about 40% of the database's CPU per
-- sent email. /admin/mail, the one reader it served, counts every email of
-- the selection anyway; its list of failing emails reads the same rows.
DROP INDEX credential_emails_unsent;

-- +goose Down
CREATE INDEX credential_emails_unsent ON credential_emails (created_at, id) WHERE state <> 'sent';
