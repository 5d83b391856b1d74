-- +goose Up
-- CSV/XLSX imports: the import record (who, when, which file, its mapping,
-- progress and outcome), the uploaded file itself in chunks (so any worker can
-- validate or commit it after a restart), the validated rows staged for one
-- INSERT ... SELECT, and the column mapping remembered per header shape.

CREATE TABLE imports (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id         bigint NOT NULL REFERENCES groups (id),
    actor            text NOT NULL,
    actor_name       text NOT NULL DEFAULT '',
    file_name        text NOT NULL,
    file_size        bigint NOT NULL,
    sha256           text NOT NULL,
    format           text NOT NULL DEFAULT '',
    encoding         text NOT NULL DEFAULT '',
    delimiter        text NOT NULL DEFAULT '',
    sheet            text NOT NULL DEFAULT '',
    state            text NOT NULL DEFAULT 'validating'
                     CHECK (state IN ('validating', 'ready', 'committing', 'committed', 'failed')),
    -- The user's choices: date order ('' = detect per column) and header →
    -- attribute key ('' = skip); columns is the mapping actually applied.
    date_order       text NOT NULL DEFAULT '' CHECK (date_order IN ('', 'YMD', 'MDY', 'DMY')),
    mapping          jsonb NOT NULL DEFAULT '{}',
    columns          jsonb NOT NULL DEFAULT '[]',
    -- File-level problems (an unmapped required attribute, an ambiguous date
    -- column), shown before the per-row ones.
    problems         jsonb NOT NULL DEFAULT '[]',
    header_signature text NOT NULL DEFAULT '',
    header_row       integer NOT NULL DEFAULT 1,
    phase            text NOT NULL DEFAULT '',
    rows_total       integer NOT NULL DEFAULT 0,
    rows_done        integer NOT NULL DEFAULT 0,
    phase_started_at timestamptz,
    rows             integer NOT NULL DEFAULT 0,
    valid            integer NOT NULL DEFAULT 0,
    invalid          integer NOT NULL DEFAULT 0,
    created          integer NOT NULL DEFAULT 0,
    skipped          integer NOT NULL DEFAULT 0,
    all_or_nothing   boolean NOT NULL DEFAULT false,
    committed_by     text NOT NULL DEFAULT '',
    duplicate_of     bigint REFERENCES imports (id) ON DELETE SET NULL,
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    committed_at     timestamptz
);
CREATE INDEX imports_group ON imports (group_id, id DESC);
CREATE INDEX imports_group_sha256 ON imports (group_id, sha256);

CREATE TABLE import_chunks (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    n         integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, n)
);

-- One row per data row of the file, in spreadsheet numbering; errors is NULL
-- for a row that can be created. No foreign key: a row-level check per COPYed
-- row would cost more than the COPY; the store deletes an import's rows with it.
CREATE TABLE import_rows (
    import_id     bigint NOT NULL,
    row_number    integer NOT NULL,
    credential_id text NOT NULL,
    name          text NOT NULL,
    email         text NOT NULL,
    key           text,
    issued_on     date,
    expires_on    date,
    attributes    jsonb NOT NULL,
    errors        jsonb,
    PRIMARY KEY (import_id, row_number)
);

CREATE TABLE import_mappings (
    group_id   bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    signature  text NOT NULL,
    mapping    jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, signature)
);

-- The import a credential came from. Neither an index nor a foreign key: both
-- would cost every bulk commit a lookup per row, nothing looks credentials up
-- by import, and an import is deleted only before it is committed.
ALTER TABLE credentials ADD COLUMN import_id bigint;

-- +goose Down
ALTER TABLE credentials DROP COLUMN import_id;
DROP TABLE import_mappings;
DROP TABLE import_rows;
DROP TABLE import_chunks;
DROP TABLE imports;
