-- +goose Up
-- Whether a team member limited to some groups may create groups (each one
-- they create joins their limit). On by default, as the Illinois guide has
-- team members create their own groups.
ALTER TABLE organisation ADD COLUMN limited_members_create_groups boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE organisation DROP COLUMN limited_members_create_groups;
