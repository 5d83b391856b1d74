-- +goose Up
-- Each staged import row carries its credential's search key, computed once
-- while the file is checked, so the commit copies the rows into credentials
-- inside PostgreSQL instead of reading them out and sending them back. Rows
-- checked before this column existed have none; their import commits the
-- older way.
ALTER TABLE import_rows ADD COLUMN search_key text;

-- +goose Down
ALTER TABLE import_rows DROP COLUMN search_key;
