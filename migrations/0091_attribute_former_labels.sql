-- +goose Up
-- The names a variable had before it was renamed: a spreadsheet column
-- still headed with one of them fills the variable (issuance/imports).
ALTER TABLE attributes ADD COLUMN former_labels text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE attributes DROP COLUMN former_labels;
