-- +goose Up
-- Multiple Groups imports: one file with a group column creates credentials
-- in several groups. Such an import has no group of its own (group_id NULL);
-- group_scope is the uploader's group limit when it was uploaded (NULL:
-- every group), groups the groups its valid rows go to, and each staged row
-- carries its group.
ALTER TABLE imports
    ALTER COLUMN group_id DROP NOT NULL,
    ADD COLUMN group_scope bigint[],
    ADD COLUMN groups bigint[] NOT NULL DEFAULT '{}';
CREATE INDEX imports_multi_group ON imports (id DESC) WHERE group_id IS NULL;
ALTER TABLE import_rows ADD COLUMN group_id bigint;

-- +goose Down
ALTER TABLE import_rows DROP COLUMN group_id;
DROP INDEX imports_multi_group;
DELETE FROM imports WHERE group_id IS NULL;
ALTER TABLE imports DROP COLUMN groups, DROP COLUMN group_scope, ALTER COLUMN group_id SET NOT NULL;
