-- +goose Up
-- When a group's achievement (name, course, description, link, design) last
-- changed: its published credentials embed the achievement, so a signature
-- made before then is stale. Signing compares the version it signed with
-- the credential's public version, greatest(updated_at, this), instead of
-- the core writing into signing's table.
ALTER TABLE groups ADD COLUMN achievement_changed_at timestamptz NOT NULL DEFAULT 'epoch';

-- +goose Down
ALTER TABLE groups DROP COLUMN achievement_changed_at;
