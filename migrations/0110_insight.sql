-- +goose Up
-- Engagement figures (package issuance/insight): aggregates only, never a row
-- per view and nothing about the person. insight_daily holds one row per
-- group, day (the organisation's time zone) and kind with any activity;
-- insight_totals one row per credential and kind, all time. insight_flushes
-- names each batch of counts moved from Redis, so a batch is added once
-- even when two workers or a retry meet it.
CREATE TABLE insight_daily (
    group_id bigint NOT NULL,
    day      date   NOT NULL,
    kind     text   NOT NULL CHECK (kind IN ('view', 'pdf', 'badge', 'verify', 'linkedin', 'share', 'email')),
    n        bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (group_id, day, kind)
);
CREATE INDEX insight_daily_day ON insight_daily (day);

CREATE TABLE insight_totals (
    credential_id text   NOT NULL,
    kind          text   NOT NULL CHECK (kind IN ('view', 'pdf', 'badge', 'verify', 'linkedin', 'share', 'email')),
    n             bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (credential_id, kind)
);

CREATE TABLE insight_flushes (
    batch text PRIMARY KEY,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX insight_flushes_at ON insight_flushes (at);

-- +goose Down
DROP TABLE insight_flushes;
DROP TABLE insight_totals;
DROP TABLE insight_daily;
