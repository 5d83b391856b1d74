-- +goose Up
-- Open Badges 3.0 signing: the issuer's credential keys, each credential's
-- signed JSON (Data Integrity proof) and VC-JWT, and the signed
-- BitstringStatusList credentials.

-- Credential signing keys: Ed25519 for the Data Integrity proof, P-256 for
-- the VC-JWT. The private key (PKCS #8 DER) is sealed with secret.Keys
-- (additional data "credential-key:<kid>"). Every key stays published (the
-- did:web document, /issuer/keys/:kid): credentials signed years ago must
-- still verify. The newest key of each algorithm signs.
CREATE TABLE credential_keys (
    kid             text PRIMARY KEY,
    alg             text NOT NULL CHECK (alg IN ('Ed25519', 'ES256')),
    private_key_enc bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- What /c/:id.json and /c/:id.jwt serve, byte for byte. signed_for is the
-- credential's updated_at that was signed: an amendment changes updated_at,
-- so the signature is stale until the sign job (queued in the amending
-- transaction) replaces it.
CREATE TABLE credential_signatures (
    credential_id text PRIMARY KEY REFERENCES credentials (id),
    signed_for    timestamptz NOT NULL,
    signed_json   text NOT NULL,
    signed_jwt    text NOT NULL,
    signed_at     timestamptz NOT NULL
);

-- The revocation status list: credential seq n is bit n % 131072 of list
-- n / 131072. The bits are read from the revoked credentials; the signed
-- list is kept while they stay the same (bits_hash).
CREATE INDEX credentials_revoked_seq ON credentials (seq) WHERE state = 'revoked';
CREATE TABLE status_lists (
    list        integer PRIMARY KEY CHECK (list >= 0),
    bits_hash   bytea NOT NULL,
    signed_json text NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE status_lists;
DROP INDEX credentials_revoked_seq;
DROP TABLE credential_signatures;
DROP TABLE credential_keys;
