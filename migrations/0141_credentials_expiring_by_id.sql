-- +goose Up
-- The expiry reminder scan (issuance/reminders) pages through the expiring
-- published credentials in the order of (expiry date, id), reading them
-- through the core: the index carries both, so each page reads only its
-- own rows, in order.
DROP INDEX credentials_expiring;
CREATE INDEX credentials_expiring ON credentials (expires_on, id)
    WHERE state = 'published' AND expires_on IS NOT NULL;

-- +goose Down
DROP INDEX credentials_expiring;
CREATE INDEX credentials_expiring ON credentials (expires_on)
    WHERE state = 'published' AND expires_on IS NOT NULL;
