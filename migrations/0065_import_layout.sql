-- +goose Up
-- What an import page offers to choose before checking a file again: the
-- workbook's sheets and the first rows of the sheet read (to pick the row
-- that holds the column names); and the warnings to read before committing
-- (names with "?" where a Windows-1252 export lost letters).
ALTER TABLE imports
    ADD COLUMN layout   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE imports DROP COLUMN layout, DROP COLUMN warnings;
