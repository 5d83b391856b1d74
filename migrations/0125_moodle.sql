-- +goose Up
-- Moodle course completion (package moodle): a mapping on a Moodle platform
-- may issue on rule moodle_completion, read with Moodle's core web services.
ALTER TABLE course_mappings DROP CONSTRAINT course_mappings_completion_rule_check;
ALTER TABLE course_mappings ADD CONSTRAINT course_mappings_completion_rule_check
    CHECK (completion_rule IN ('canvas_completion', 'canvas_score', 'canvas_module', 'moodle_completion', 'manual'));

-- A platform's Moodle web service: the site URL and the token, sealed with
-- LAUREL_SECRET_KEY under the additional data "moodle-token:<platform id>".
CREATE TABLE moodle_platform_settings (
    platform_id bigint PRIMARY KEY REFERENCES platforms (id) ON DELETE CASCADE,
    moodle_url  text NOT NULL DEFAULT '',
    token_enc   bytea,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Each completion check of a mapped Moodle course (what started it, what it
-- saw, why it failed): the instructor's "last check" line.
CREATE TABLE moodle_checks (
    id          bigserial PRIMARY KEY,
    mapping_id  bigint NOT NULL REFERENCES course_mappings (id) ON DELETE CASCADE,
    trigger     text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    checked     integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX moodle_checks_mapping ON moodle_checks (mapping_id, started_at DESC);

-- What the last check saw of each enrolled user: the roster's "why (not)
-- awarded" line, and staff's on /admin/events with the name Moodle gave
-- (erased with the person by internal/people through moodle.ErasePerson).
CREATE TABLE moodle_rule_states (
    mapping_id     bigint NOT NULL REFERENCES course_mappings (id) ON DELETE CASCADE,
    moodle_user_id text NOT NULL,
    name           text NOT NULL DEFAULT '',
    email          text NOT NULL DEFAULT '',
    completed      boolean NOT NULL,
    completed_at   timestamptz,
    state          text NOT NULL DEFAULT '',
    checked_at     timestamptz NOT NULL,
    PRIMARY KEY (mapping_id, moodle_user_id)
);

-- +goose Down
DROP TABLE moodle_rule_states;
DROP TABLE moodle_checks;
DROP TABLE moodle_platform_settings;
DELETE FROM course_mappings WHERE completion_rule = 'moodle_completion';
ALTER TABLE course_mappings DROP CONSTRAINT course_mappings_completion_rule_check;
ALTER TABLE course_mappings ADD CONSTRAINT course_mappings_completion_rule_check
    CHECK (completion_rule IN ('canvas_completion', 'canvas_score', 'canvas_module', 'manual'));
