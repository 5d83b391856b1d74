-- +goose Up
-- Staff accounts, API tokens, designs, groups, credentials, the audit log and the
-- durable job queue: the issuance core every other feature builds on.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'team_member', 'viewer')),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'team_member', 'viewer')),
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE designs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('badge', 'certificate')),
    image             bytea,
    image_type        text,
    title             text NOT NULL DEFAULT '',
    primary_color     text NOT NULL DEFAULT '#1f3a5f',
    secondary_color   text NOT NULL DEFAULT '#c9a227',
    logo              bytea,
    logo_type         text,
    printed_attributes text[] NOT NULL DEFAULT '{}',
    is_default        boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX designs_one_default ON designs (is_default) WHERE is_default;

CREATE TABLE groups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL,
    course_name      text NOT NULL,
    description      text NOT NULL DEFAULT '',
    course_link      text NOT NULL DEFAULT '',
    language         text NOT NULL DEFAULT 'en',
    design_id        bigint NOT NULL REFERENCES designs (id),
    attributes       jsonb NOT NULL DEFAULT '[]',
    validity_months  integer CHECK (validity_months IS NULL OR validity_months > 0),
    allow_duplicates boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- A team member limited to some groups; no rows means every group.
CREATE TABLE user_groups (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE credentials (
    -- seq orders credentials for keyset pagination; id is the public, unguessable ID.
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                text PRIMARY KEY,
    group_id          bigint NOT NULL REFERENCES groups (id),
    state             text NOT NULL DEFAULT 'unpublished'
                      CHECK (state IN ('unpublished', 'published', 'revoked')),
    recipient_name    text NOT NULL,
    recipient_email   text NOT NULL,
    -- lower(recipient_email) while the group forbids duplicates, NULL otherwise:
    -- lets the database enforce one live credential per recipient and group.
    recipient_key     text,
    issued_on         date NOT NULL,
    expires_on        date,
    attributes        jsonb NOT NULL DEFAULT '{}',
    evidence_url      text NOT NULL DEFAULT '',
    source            text NOT NULL CHECK (source IN ('completion', 'reconciliation', 'form', 'csv', 'api')),
    -- Identity of the automatic source (e.g. a Canvas user in a platform), so a
    -- repeated completion never creates a second credential in the group.
    external_ref      text,
    revocation_reason text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    published_at      timestamptz,
    revoked_at        timestamptz,
    CHECK (expires_on IS NULL OR expires_on >= issued_on)
);
CREATE UNIQUE INDEX credentials_one_per_recipient
    ON credentials (group_id, recipient_key)
    WHERE recipient_key IS NOT NULL AND state <> 'revoked';
CREATE UNIQUE INDEX credentials_one_per_external_ref
    ON credentials (group_id, external_ref)
    WHERE external_ref IS NOT NULL;
-- Keyset pagination: one state of a group, or all of it, newest first.
CREATE INDEX credentials_group_state_seq ON credentials (group_id, state, seq DESC);
CREATE INDEX credentials_group_seq ON credentials (group_id, seq DESC);
CREATE INDEX credentials_email ON credentials (lower(recipient_email));

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   text NOT NULL,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, id);

-- Durable background work, claimed with FOR UPDATE SKIP LOCKED and enqueued in
-- the same transaction as the change it follows.
CREATE TABLE jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts    integer NOT NULL DEFAULT 0,
    run_at      timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
-- Claims scan only queued jobs; the reaper finds running jobs whose lease
-- expired (their worker crashed) through the second index.
CREATE INDEX jobs_queued ON jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_running_lease ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('done', 'dead');
CREATE INDEX jobs_kind_state ON jobs (kind, state);

-- Outgoing email per credential, so staff see delivery state and bounces.
CREATE TABLE credential_emails (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id text NOT NULL REFERENCES credentials (id),
    to_address    text NOT NULL,
    reason        text NOT NULL CHECK (reason IN ('published', 'resend')),
    state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX credential_emails_credential ON credential_emails (credential_id, id);

-- +goose Down
DROP TABLE credential_emails;
DROP TABLE jobs;
DROP TABLE audit_log;
DROP TABLE credentials;
DROP TABLE user_groups;
DROP TABLE groups;
DROP TABLE designs;
DROP TABLE api_tokens;
DROP TABLE users;
