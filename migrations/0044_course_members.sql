-- +goose Up
-- The people seen in a course (platform + LTI context): its launch users and
-- the members of its Names and Roles roster. An instructor in the LMS sees
-- and publishes only the credentials of these people (by the Canvas
-- external reference of their completion credentials, or by email), never
-- the rest of a group shared with other courses or staff. Owned by package
-- lti/course.

CREATE TABLE course_members (
    platform_id  bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    context_id   text NOT NULL CHECK (context_id <> ''),
    sub          text NOT NULL CHECK (sub <> ''),
    email        text NOT NULL DEFAULT '',
    external_ref text NOT NULL DEFAULT '',
    seen_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, context_id, sub)
);

-- +goose Down
DROP TABLE course_members;
