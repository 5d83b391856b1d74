-- +goose Up
-- Expiry reminders (owned by issuance): the settings (the organisation's
-- defaults, group_id NULL, and a group's own when it overrides them), the
-- reminders sent (one row per credential, expiry date and offset: the key
-- that makes each reminder go out once, and a changed expiry date plan anew),
-- and the recipients' requests to renew.
CREATE TABLE reminder_settings (
    group_id         bigint UNIQUE REFERENCES groups (id) ON DELETE CASCADE,
    -- Days before the expiry date a reminder goes out; empty: none.
    offsets          integer[] NOT NULL DEFAULT '{30,7}',
    expired_email    boolean NOT NULL DEFAULT true,
    -- '' means Laurel's default wording.
    reminder_subject text NOT NULL DEFAULT '',
    reminder_body    text NOT NULL DEFAULT '',
    expired_subject  text NOT NULL DEFAULT '',
    expired_body     text NOT NULL DEFAULT '',
    -- Recipients may ask to renew (a link in the emails and on the page).
    renewal          boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (0 < ALL (offsets) AND cardinality(offsets) <= 10)
);
CREATE UNIQUE INDEX reminder_settings_organisation ON reminder_settings ((group_id IS NULL)) WHERE group_id IS NULL;
INSERT INTO reminder_settings (group_id) VALUES (NULL);

-- kind 'reminder' is days before expires_on; 'expired' has days 0.
CREATE TABLE credential_reminders (
    credential_id text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    expires_on    date NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('reminder', 'expired')),
    days          integer NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (credential_id, expires_on, kind, days)
);

-- The scan reads only published credentials that expire, by date.
CREATE INDEX credentials_expiring ON credentials (expires_on)
    WHERE state = 'published' AND expires_on IS NOT NULL;

ALTER TABLE credential_emails DROP CONSTRAINT credential_emails_reason_check;
ALTER TABLE credential_emails ADD CONSTRAINT credential_emails_reason_check
    CHECK (reason IN ('published', 'resend', 'reminder', 'expired'));
-- The expiry date a reminder or expired email speaks of: it is not sent once
-- the credential's date has changed.
ALTER TABLE credential_emails ADD COLUMN expires_on date;

-- One request per credential and expiry date: asking twice changes nothing.
CREATE TABLE renewal_requests (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    group_id      bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    expires_on    date NOT NULL,
    created_at    timestamptz NOT NULL,
    UNIQUE (credential_id, expires_on)
);
CREATE INDEX renewal_requests_group ON renewal_requests (group_id, created_at DESC);

-- +goose Down
DROP TABLE renewal_requests;
ALTER TABLE credential_emails DROP COLUMN expires_on;
ALTER TABLE credential_emails DROP CONSTRAINT credential_emails_reason_check;
ALTER TABLE credential_emails ADD CONSTRAINT credential_emails_reason_check
    CHECK (reason IN ('published', 'resend'));
DROP INDEX credentials_expiring;
DROP TABLE credential_reminders;
DROP TABLE reminder_settings;
