-- +goose Up
-- What instructors may do when they map a course from a launch: pick only a
-- group created for their course or one staff made available to instructors,
-- and choose auto-publish only where the group allows it. Who mapped what is
-- kept with each mapping.

ALTER TABLE groups
    ADD COLUMN available_to_instructors boolean NOT NULL DEFAULT false,
    ADD COLUMN allow_auto_publish       boolean NOT NULL DEFAULT false;

-- Groups an instructor created from a launch, for that course (platform + LTI
-- context): the course's own groups, which its instructors may map onto.
CREATE TABLE course_groups (
    platform_id bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    context_id  text NOT NULL CHECK (context_id <> ''),
    group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, context_id, group_id)
);

-- The person behind created_by, as shown to staff ("Tina Teacher
-- <tina@example.edu>, instructor via Canvas").
ALTER TABLE course_mappings ADD COLUMN created_by_name text NOT NULL DEFAULT '';

-- A group an instructor created from a launch (the audit log names the same
-- LTI actor as the mapping) is that course's own group.
INSERT INTO course_groups (platform_id, context_id, group_id, created_by, created_at)
SELECT m.platform_id, m.context_id, m.group_id, m.created_by, m.created_at
FROM course_mappings m
WHERE m.context_id IS NOT NULL AND m.created_by LIKE 'lti:%'
  AND EXISTS (SELECT 1 FROM audit_log a
              WHERE a.entity_type = 'group' AND a.action = 'create'
                AND a.entity_id = m.group_id::text AND a.actor = m.created_by)
ON CONFLICT DO NOTHING;

-- No existing group allows auto-publish, so auto-publish that an instructor
-- chose from a launch stops: those completions now wait unpublished for staff
-- review until staff allow it on the group and switch it on again. Staff-made
-- mappings keep their setting.
UPDATE course_mappings SET auto_publish = false WHERE auto_publish AND created_by LIKE 'lti:%';

-- +goose Down
ALTER TABLE course_mappings DROP COLUMN created_by_name;
DROP TABLE course_groups;
ALTER TABLE groups DROP COLUMN allow_auto_publish, DROP COLUMN available_to_instructors;
