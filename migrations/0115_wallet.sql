-- +goose Up
-- Wallets (package issuance/wallet): claiming a published credential into a
-- wallet through OpenID4VCI 1.0 (pre-authorized code) or the Learner
-- Credential Wallet. Secrets are stored as SHA-256 hashes only.

-- What a group asks of its offers: how many wallets one offer may fill, and
-- whether a transaction code is sent in a separate email.
CREATE TABLE wallet_group_settings (
    group_id    bigint PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    offer_uses  integer NOT NULL DEFAULT 1 CHECK (offer_uses BETWEEN 1 AND 10),
    tx_code     boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL
);

-- One offer of one published credential: the secret in its links
-- (token_hash), the OpenID4VCI pre-authorized code (code_hash), the
-- optional transaction code, and the Learner Credential Wallet challenge.
CREATE TABLE wallet_offers (
    id            bigserial PRIMARY KEY,
    credential_id text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE,
    code_hash     bytea NOT NULL UNIQUE,
    tx_code_hash  bytea,
    tx_failures   integer NOT NULL DEFAULT 0,
    challenge     text NOT NULL UNIQUE,
    uses_left     integer NOT NULL CHECK (uses_left >= 0),
    -- The link secret and transaction code, sealed, until the email that
    -- carries them is sent (then NULL).
    mail_sealed   bytea,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX wallet_offers_credential ON wallet_offers (credential_id);

-- An OpenID4VCI access token: issued by the token endpoint for one use of
-- an offer, spent by one credential request.
CREATE TABLE wallet_tokens (
    token_hash  bytea PRIMARY KEY,
    offer_id    bigint NOT NULL REFERENCES wallet_offers (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    spent_at    timestamptz
);
CREATE INDEX wallet_tokens_offer ON wallet_tokens (offer_id);

-- Every credential claimed into a wallet: by which holder (a DID), how, and
-- when. Staff see them on the credential's page and find them by DID.
CREATE TABLE wallet_claims (
    id            bigserial PRIMARY KEY,
    credential_id text NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    holder        text NOT NULL,
    protocol      text NOT NULL CHECK (protocol IN ('oid4vci', 'lcw', 'vcapi')),
    format        text NOT NULL CHECK (format IN ('ldp_vc', 'jwt_vc_json')),
    claimed_at    timestamptz NOT NULL
);
CREATE INDEX wallet_claims_holder ON wallet_claims (holder);
CREATE INDEX wallet_claims_credential ON wallet_claims (credential_id, claimed_at);

-- +goose Down
DROP TABLE wallet_claims;
DROP TABLE wallet_tokens;
DROP TABLE wallet_offers;
DROP TABLE wallet_group_settings;
