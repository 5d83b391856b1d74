-- +goose Up
-- The Credentials tab lists credentials across groups in a chosen order,
-- one keyset page at a time: by name (as searches compare it, so case and
-- accents do not scatter people) and by issue date, each with seq to break
-- ties. Newest and oldest first use the seq index.
-- The name order compares bytes (COLLATE "C"), so it is the same whatever
-- the database's locale: names spelt in other scripts come before Latin ones.
CREATE INDEX credentials_name_seq ON credentials ((COALESCE(search_key, '') COLLATE "C"), seq);
CREATE INDEX credentials_issued_seq ON credentials (issued_on, seq);

-- +goose Down
DROP INDEX credentials_issued_seq;
DROP INDEX credentials_name_seq;
