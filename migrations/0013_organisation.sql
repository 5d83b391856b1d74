-- +goose Up
-- The issuing organisation (the university): one row, edited by owners on
-- /admin/organisation and read wherever Laurel names the issuer (emails, the
-- public credential page, certificates, Open Badges issuer profiles).
-- email_subject / email_body '' mean Laurel's default publish email text.
CREATE TABLE organisation (
    id                      boolean PRIMARY KEY DEFAULT true CHECK (id),
    name                    text NOT NULL,
    website                 text NOT NULL DEFAULT '',
    contact_email           text NOT NULL DEFAULT '',
    logo                    bytea,
    logo_type               text,
    sender_name             text NOT NULL DEFAULT '',
    reply_to                text NOT NULL DEFAULT '',
    language                text NOT NULL DEFAULT 'en',
    email_subject           text NOT NULL DEFAULT '',
    email_body              text NOT NULL DEFAULT '',
    instructors_may_publish boolean NOT NULL DEFAULT false,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- Until an owner names the organisation, credentials keep saying what they
-- said before this table existed.
INSERT INTO organisation (id, name) VALUES (true, 'Laurel');

-- +goose Down
DROP TABLE organisation;
