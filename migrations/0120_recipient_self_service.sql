-- +goose Up
-- Recipient self-service (package issuance/recipient): one-time links that
-- prove a person holds a credential's email address, the credentials their
-- recipients hid from the public, and name corrections waiting for staff.

-- A link is 32 random bytes; only its MAC is stored for lookup. mail_token
-- is the link sealed for the email job alone, cleared once sent.
CREATE TABLE recipient_links (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE,
    mail_token    bytea,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX recipient_links_credential ON recipient_links (credential_id);

-- A row means the credential's page shows only that it exists and is valid.
CREATE TABLE recipient_hidden (
    credential_id text PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    hidden_at     timestamptz NOT NULL
);

CREATE TABLE name_corrections (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id  text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    group_id       bigint NOT NULL,
    current_name   text NOT NULL,
    requested_name text NOT NULL,
    note           text NOT NULL DEFAULT '',
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'refused')),
    reason         text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    decided_at     timestamptz,
    decided_by     text NOT NULL DEFAULT ''
);
-- One open request per credential; the queue lists a group's open ones.
CREATE UNIQUE INDEX name_corrections_one_pending ON name_corrections (credential_id) WHERE state = 'pending';
CREATE INDEX name_corrections_queue ON name_corrections (group_id, created_at) WHERE state = 'pending';

-- The emails this room sends, each sent by one recipient_email job: a link,
-- a decision on a name correction, or a notice that staff changed the
-- credential's email address (one to the old address, one to the new).
CREATE TABLE recipient_mails (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('link', 'correction_approved', 'correction_refused', 'address_old', 'address_new')),
    to_address    text NOT NULL,
    link_id       bigint REFERENCES recipient_links (id) ON DELETE CASCADE,
    correction_id bigint REFERENCES name_corrections (id) ON DELETE CASCADE,
    state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
    last_error    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz
);
CREATE INDEX recipient_mails_credential ON recipient_mails (credential_id);

-- +goose Down
DROP TABLE recipient_mails;
DROP TABLE name_corrections;
DROP TABLE recipient_hidden;
DROP TABLE recipient_links;
