-- +goose Up
-- What only Canvas does: course mappings, the Live Events inbox, Canvas users and
-- root-account guids learned from launches, webhook shared secrets, and the
-- reconciliation log.

-- A Canvas course (by context_id from launches and/or the local $Canvas.course.id)
-- mapped to a credential group.
CREATE TABLE course_mappings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id      bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    deployment_id    text NOT NULL DEFAULT '',
    canvas_course_id text CHECK (canvas_course_id IS NULL OR canvas_course_id <> ''),
    context_id       text CHECK (context_id IS NULL OR context_id <> ''),
    group_id         bigint NOT NULL REFERENCES groups (id),
    completion_rule  text NOT NULL DEFAULT 'canvas_completion'
                     CHECK (completion_rule IN ('canvas_completion', 'manual')),
    auto_publish     boolean NOT NULL DEFAULT false,
    -- What the instructor saw at launch, for the admin pages.
    course_title     text NOT NULL DEFAULT '',
    created_by       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (canvas_course_id IS NOT NULL OR context_id IS NOT NULL)
);
CREATE UNIQUE INDEX course_mappings_context ON course_mappings (platform_id, context_id)
    WHERE context_id IS NOT NULL;
CREATE UNIQUE INDEX course_mappings_course ON course_mappings (platform_id, canvas_course_id)
    WHERE canvas_course_id IS NOT NULL;
CREATE INDEX course_mappings_group ON course_mappings (group_id);

-- Canvas users as seen in launches and NRPS rosters: the email the student uses
-- in Canvas beats the (possibly absent) one in a Live Event.
CREATE TABLE canvas_users (
    platform_id    bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    canvas_user_id text NOT NULL,
    sub            text NOT NULL DEFAULT '',
    name           text NOT NULL DEFAULT '',
    email          text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, canvas_user_id)
);
CREATE INDEX canvas_users_sub ON canvas_users (platform_id, sub) WHERE sub <> '';

-- Root-account LTI guids (tool_platform.guid) seen at launch: the fallback that
-- ties a Live Event's metadata.root_account_lti_guid to a platform.
CREATE TABLE canvas_platform_guids (
    guid        text PRIMARY KEY,
    platform_id bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    seen_at     timestamptz NOT NULL DEFAULT now()
);

-- Per-platform Canvas settings that are not LTI: the shared secret that lets
-- unsigned Live Events in (encrypted, AD "canvas-webhook-secret:<platform_id>").
CREATE TABLE canvas_platform_settings (
    platform_id        bigint PRIMARY KEY REFERENCES platforms (id) ON DELETE CASCADE,
    webhook_secret_enc bytea,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The Live Events inbox. A re-delivery hits dedup_key and is a no-op; the
-- worker claims 'received' rows with FOR UPDATE SKIP LOCKED inside the
-- transaction that creates the credential, so a crash loses nothing and
-- doubles nothing.
CREATE TABLE canvas_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key        text NOT NULL UNIQUE,
    event_name       text NOT NULL,
    hostname         text NOT NULL DEFAULT '',
    root_account_guid text NOT NULL DEFAULT '',
    canvas_course_id text NOT NULL DEFAULT '',
    canvas_user_id   text NOT NULL DEFAULT '',
    completed_at     timestamptz,
    payload          jsonb,
    signed           boolean NOT NULL DEFAULT true,
    state            text NOT NULL DEFAULT 'received'
                     CHECK (state IN ('received', 'processed', 'ignored', 'unmapped', 'failed')),
    reason           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    platform_id      bigint,
    mapping_id       bigint,
    credential_id    text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    processed_at     timestamptz
);
CREATE INDEX canvas_events_ready ON canvas_events (run_at, id) WHERE state = 'received';
CREATE INDEX canvas_events_unmapped ON canvas_events (platform_id, canvas_course_id, received_at)
    WHERE state = 'unmapped';
CREATE INDEX canvas_events_recent ON canvas_events (received_at DESC);

-- One row per reconciliation run of one mapping.
CREATE TABLE canvas_reconciliations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mapping_id  bigint NOT NULL REFERENCES course_mappings (id) ON DELETE CASCADE,
    trigger     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    checked     integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX canvas_reconciliations_mapping ON canvas_reconciliations (mapping_id, id DESC);

-- +goose Down
DROP TABLE canvas_reconciliations;
DROP TABLE canvas_events;
DROP TABLE canvas_platform_settings;
DROP TABLE canvas_platform_guids;
DROP TABLE canvas_users;
DROP TABLE course_mappings;
