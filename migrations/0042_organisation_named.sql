-- +goose Up
-- Publishing waits until an owner has named the organisation, so no
-- credential is signed in the software's name. named_at is set by the first
-- save of the settings; an installation whose owner already renamed the
-- organisation from the default counts as named.

ALTER TABLE organisation ADD COLUMN named_at timestamptz;
UPDATE organisation SET named_at = updated_at WHERE name <> 'Laurel';

-- +goose Down
ALTER TABLE organisation DROP COLUMN named_at;
