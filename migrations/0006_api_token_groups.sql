-- +goose Up
-- An API token acting as a team member can be limited to some groups, as
-- the account is (user_groups); no rows means every group. Deleting a group a
-- token is limited to is refused (no ON DELETE CASCADE): a limit that
-- silently emptied would widen the token to every group.

CREATE TABLE api_token_groups (
    token_id bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    group_id bigint NOT NULL REFERENCES groups (id),
    PRIMARY KEY (token_id, group_id)
);
CREATE INDEX api_token_groups_group ON api_token_groups (group_id);

-- +goose Down
DROP TABLE api_token_groups;
