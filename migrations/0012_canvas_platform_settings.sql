-- +goose Up
-- Package boundaries: what only Canvas knows about a platform leaves the LTI
-- tables for Canvas's own. The Canvas URL and the sealed Canvas API token
-- move from platforms to canvas_platform_settings (the token keeps its
-- additional data "canvas-token:<platform id>", so it still opens), and the
-- Canvas user id recorded per launch moves from lti_users to canvas_users,
-- which already holds it for every launch since 0003.

ALTER TABLE canvas_platform_settings
    ADD COLUMN canvas_url       text NOT NULL DEFAULT '',
    ADD COLUMN canvas_token_enc bytea;

INSERT INTO canvas_platform_settings (platform_id, canvas_url, canvas_token_enc, updated_at)
SELECT id, canvas_url, canvas_token_enc, updated_at
FROM platforms
WHERE canvas_url <> '' OR canvas_token_enc IS NOT NULL
ON CONFLICT (platform_id) DO UPDATE SET
    canvas_url = EXCLUDED.canvas_url,
    canvas_token_enc = EXCLUDED.canvas_token_enc;

-- A Canvas user known only from lti_users is added; one canvas_users already
-- knows keeps its values and gains those it lacks. The latest launch wins
-- when two subs of one platform named the same Canvas user.
INSERT INTO canvas_users (platform_id, canvas_user_id, sub, name, email, updated_at)
SELECT DISTINCT ON (platform_id, canvas_user_id) platform_id, canvas_user_id, sub, name, email, last_launch_at
FROM lti_users
WHERE canvas_user_id <> ''
ORDER BY platform_id, canvas_user_id, last_launch_at DESC, id DESC
ON CONFLICT (platform_id, canvas_user_id) DO UPDATE SET
    sub = COALESCE(NULLIF(canvas_users.sub, ''), EXCLUDED.sub),
    name = COALESCE(NULLIF(canvas_users.name, ''), EXCLUDED.name),
    email = COALESCE(NULLIF(canvas_users.email, ''), EXCLUDED.email);

DROP INDEX lti_users_canvas_user;
ALTER TABLE lti_users DROP COLUMN canvas_user_id;
ALTER TABLE platforms DROP COLUMN canvas_url, DROP COLUMN canvas_token_enc;

-- +goose Down
ALTER TABLE platforms
    ADD COLUMN canvas_url       text NOT NULL DEFAULT '',
    ADD COLUMN canvas_token_enc bytea;
UPDATE platforms p SET canvas_url = s.canvas_url, canvas_token_enc = s.canvas_token_enc
FROM canvas_platform_settings s
WHERE s.platform_id = p.id;

ALTER TABLE lti_users ADD COLUMN canvas_user_id text NOT NULL DEFAULT '';
UPDATE lti_users u SET canvas_user_id = c.canvas_user_id
FROM canvas_users c
WHERE c.platform_id = u.platform_id AND c.sub = u.sub AND c.sub <> '';
CREATE INDEX lti_users_canvas_user ON lti_users (platform_id, canvas_user_id) WHERE canvas_user_id <> '';

ALTER TABLE canvas_platform_settings DROP COLUMN canvas_token_enc, DROP COLUMN canvas_url;
