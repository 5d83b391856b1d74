-- +goose Up
-- A signature's JSON (about 1.8 kB) and VC-JWT (about 2.3 kB, base64) are
-- stored out of line without compression: PostgreSQL's default (pglz) spent
-- a third of the time of storing each signature trying to compress them and
-- saved next to nothing (the same table size either way, measured with
-- 22,500 real signatures). Rows written before keep their storage.
ALTER TABLE credential_signatures ALTER COLUMN signed_json SET STORAGE EXTERNAL,
    ALTER COLUMN signed_jwt SET STORAGE EXTERNAL;

-- +goose Down
ALTER TABLE credential_signatures ALTER COLUMN signed_json SET STORAGE EXTENDED,
    ALTER COLUMN signed_jwt SET STORAGE EXTENDED;
