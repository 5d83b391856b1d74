-- +goose Up
-- Staff administration from the owner's pages: invitations and password
-- resets by one-time link, and a session epoch that ends every session of an
-- account at once (disabled, password reset or changed).

-- An invited account has no usable password until its invitation is accepted.
ALTER TABLE users ADD COLUMN invitation_pending boolean NOT NULL DEFAULT false;
-- Sessions remember the epoch they signed in under; bumping it signs the
-- account out everywhere, and re-enabling an account does not revive them.
ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;

-- One-time links that let a person set their password: an invitation (valid
-- 7 days) or a password reset (valid 1 hour). Only a MAC of the token is
-- kept for lookup; mail_token holds it encrypted for the email job alone and
-- is cleared once the email is sent.
CREATE TABLE account_links (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('invite', 'reset')),
    token_hash bytea NOT NULL UNIQUE,
    mail_token bytea,
    mail_state text NOT NULL DEFAULT 'queued' CHECK (mail_state IN ('queued', 'sent', 'failed')),
    mail_error text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_links_user ON account_links (user_id, id);

-- +goose Down
DROP TABLE account_links;
ALTER TABLE users DROP COLUMN session_epoch;
ALTER TABLE users DROP COLUMN invitation_pending;
