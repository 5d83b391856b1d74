-- +goose Up
-- The organisation's time zone (an IANA name) that pages and emails show
-- times in; '' is the server's own zone.

ALTER TABLE organisation ADD COLUMN time_zone text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE organisation DROP COLUMN time_zone;
