-- +goose Up
-- LTI 1.3: the platforms that launch Laurel (registrations keyed on issuer +
-- client_id), their deployments, the tool's own signing keys, and the people
-- who launched (known by platform + sub).

CREATE TABLE platforms (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                      text NOT NULL,
    issuer                    text NOT NULL CHECK (issuer <> ''),
    client_id                 text NOT NULL CHECK (client_id <> ''),
    auth_url                  text NOT NULL,
    token_url                 text NOT NULL DEFAULT '',
    jwks_url                  text NOT NULL,
    -- The institution's Canvas base URL (REST API, Live Events hostname) and an
    -- API token sealed with secret.Keys (additional data "canvas-token:<id>").
    canvas_url                text NOT NULL DEFAULT '',
    canvas_token_enc          bytea,
    -- Scopes the platform granted at dynamic registration ('' when unknown).
    granted_scopes            text NOT NULL DEFAULT '',
    auto_register_deployments boolean NOT NULL DEFAULT true,
    disabled                  boolean NOT NULL DEFAULT false,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platforms_issuer_client_key UNIQUE (issuer, client_id)
);

CREATE TABLE deployments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id   bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    deployment_id text NOT NULL CHECK (deployment_id <> ''),
    -- true when recorded on first launch rather than added by an admin.
    auto          boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deployments_platform_deployment_key UNIQUE (platform_id, deployment_id)
);

-- The tool's RS256 signing keys; the private key PEM is sealed with
-- secret.Keys (additional data "tool-key:<kid>"). Retired keys leave /lti/jwks.
CREATE TABLE tool_keys (
    kid             text PRIMARY KEY,
    private_key_enc bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz
);

-- A person who launched: (platform, sub). The Canvas user id and email come
-- from the launch's custom fields; user_id links a staff account whose email
-- the platform vouched for in a signed launch.
CREATE TABLE lti_users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id    bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    sub            text NOT NULL CHECK (sub <> ''),
    name           text NOT NULL DEFAULT '',
    email          text NOT NULL DEFAULT '',
    canvas_user_id text NOT NULL DEFAULT '',
    user_id        bigint REFERENCES users (id) ON DELETE SET NULL,
    first_launch_at timestamptz NOT NULL DEFAULT now(),
    last_launch_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lti_users_platform_sub_key UNIQUE (platform_id, sub)
);
CREATE INDEX lti_users_email ON lti_users (lower(email)) WHERE email <> '';
CREATE INDEX lti_users_canvas_user ON lti_users (platform_id, canvas_user_id) WHERE canvas_user_id <> '';

-- +goose Down
DROP TABLE lti_users;
DROP TABLE tool_keys;
DROP TABLE deployments;
DROP TABLE platforms;
