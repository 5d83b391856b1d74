-- +goose Up
-- Canvas score and module rules: a mapping may issue when a student's posted
-- course score reaches min_score (score_kind current or final), or when the
-- student completes module module_id. Each rule carries exactly its fields.
ALTER TABLE course_mappings DROP CONSTRAINT course_mappings_completion_rule_check;
ALTER TABLE course_mappings
    ADD COLUMN min_score numeric(5, 2) CHECK (min_score IS NULL OR (min_score >= 0 AND min_score <= 1000)),
    ADD COLUMN score_kind text CHECK (score_kind IS NULL OR score_kind IN ('current', 'final')),
    ADD COLUMN module_id text CHECK (module_id IS NULL OR module_id ~ '^[0-9]{1,20}$'),
    ADD CONSTRAINT course_mappings_completion_rule_check
        CHECK (completion_rule IN ('canvas_completion', 'canvas_score', 'canvas_module', 'manual')),
    ADD CONSTRAINT course_mappings_rule_fields CHECK (
        (completion_rule = 'canvas_score') = (min_score IS NOT NULL AND score_kind IS NOT NULL)
        AND (completion_rule = 'canvas_module') = (module_id IS NOT NULL));

-- What the last check saw of each student against a Canvas score or module
-- rule (package canvas): the roster's "why (not) awarded" line, and the day a
-- score rule was first met (the credential's issue date).
CREATE TABLE canvas_rule_states (
    mapping_id     bigint NOT NULL REFERENCES course_mappings (id) ON DELETE CASCADE,
    canvas_user_id text NOT NULL,
    met            boolean NOT NULL,
    score          numeric(7, 2),
    module_state   text NOT NULL DEFAULT '',
    first_met_at   timestamptz,
    checked_at     timestamptz NOT NULL,
    PRIMARY KEY (mapping_id, canvas_user_id)
);

-- +goose Down
DROP TABLE canvas_rule_states;
DELETE FROM course_mappings WHERE completion_rule IN ('canvas_score', 'canvas_module');
ALTER TABLE course_mappings DROP CONSTRAINT course_mappings_rule_fields;
ALTER TABLE course_mappings DROP CONSTRAINT course_mappings_completion_rule_check;
ALTER TABLE course_mappings DROP COLUMN min_score, DROP COLUMN score_kind, DROP COLUMN module_id;
ALTER TABLE course_mappings ADD CONSTRAINT course_mappings_completion_rule_check
    CHECK (completion_rule IN ('canvas_completion', 'manual'));
