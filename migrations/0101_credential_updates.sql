-- +goose Up
-- An update by spreadsheet: the file a staff member uploaded after
-- "Download for update", checked against the credentials, kept as one row
-- per spreadsheet row that changes something or has a problem (unchanged
-- rows are only counted), until it is applied. Owned by package
-- issuance/updates.
CREATE TABLE credential_updates (
    id          bigserial PRIMARY KEY,
    actor       text NOT NULL,
    file_name   text NOT NULL,
    rows_read   integer NOT NULL CHECK (rows_read >= 0),
    changes     integer NOT NULL CHECK (changes >= 0),
    unchanged   integer NOT NULL CHECK (unchanged >= 0),
    problems    integer NOT NULL CHECK (problems >= 0),
    created_at  timestamptz NOT NULL,
    applied_at  timestamptz,
    applied     integer NOT NULL DEFAULT 0,
    emailed     integer NOT NULL DEFAULT 0
);
CREATE INDEX credential_updates_actor ON credential_updates (actor, id DESC);

CREATE TABLE credential_update_rows (
    update_id     bigint NOT NULL REFERENCES credential_updates (id) ON DELETE CASCADE,
    row_number    integer NOT NULL,
    credential_id text NOT NULL,
    -- The recipient's name when the file was checked, to name the row.
    name          text NOT NULL,
    -- [{"field", "label", "old", "new"}]: what the row changes.
    changes       jsonb NOT NULL DEFAULT '[]',
    -- [{"column", "message"}]: why the row cannot be applied.
    problems      jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (update_id, row_number)
);

-- +goose Down
DROP TABLE credential_update_rows;
DROP TABLE credential_updates;
