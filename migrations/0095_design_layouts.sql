-- +goose Up
-- A design's layout (the template it started from: classic is the look every
-- design had before, so existing designs render unchanged) and where a
-- certificate places image attributes: {"left"|"centre"|"right": attribute key}.
ALTER TABLE designs
    ADD COLUMN layout text NOT NULL DEFAULT 'classic'
        CHECK (layout IN ('classic', 'modern', 'minimal', 'shield', 'medal', 'ribbon')),
    ADD COLUMN image_slots jsonb NOT NULL DEFAULT '{}'::jsonb;

-- The one image of a group's image attribute (e.g. a signature): owned by
-- issuance, erased with the group or when the attribute stops being an image.
CREATE TABLE group_images (
    group_id      bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    attribute_key text NOT NULL,
    image         bytea NOT NULL,
    image_type    text NOT NULL CHECK (image_type IN ('image/png', 'image/jpeg', 'image/svg+xml')),
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (group_id, attribute_key)
);

-- +goose Down
DROP TABLE group_images;
ALTER TABLE designs DROP COLUMN image_slots, DROP COLUMN layout;
