-- +goose Up
-- One-time Dynamic Registration links: an owner creates one (on
-- /admin/platforms or with `laurel platform link`) and pastes it into the
-- platform; /lti/register stores nothing without a valid one. Only the
-- SHA-256 of the link's token is kept. claimed_at is set while a
-- registration runs (so two concurrent uses cannot both store a platform) and
-- cleared when it fails; used_at and platform_id record the registration
-- that consumed the link.

CREATE TABLE registration_links (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea NOT NULL,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    claimed_at  timestamptz,
    used_at     timestamptz,
    platform_id bigint REFERENCES platforms (id) ON DELETE SET NULL,
    -- What the platform did not grant (scopes, placements), one per line.
    warnings    text NOT NULL DEFAULT '',
    CONSTRAINT registration_links_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX registration_links_platform_idx ON registration_links (platform_id);
