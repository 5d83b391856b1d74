-- +goose Up
-- The organisation's attribute variables (the Attributes section): custom
-- ones only; the standard ones (issuance.StandardAttributes) are fixed in
-- code. A group's attributes name these keys; a retired variable is no
-- longer offered to groups but stays on the groups that use it.
CREATE TABLE attributes (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    label       text NOT NULL CHECK (label <> '' AND length(label) <= 100),
    type        text NOT NULL CHECK (type IN ('text', 'number', 'date', 'url', 'image')),
    visibility  text NOT NULL DEFAULT 'recipient' CHECK (visibility IN ('public', 'recipient', 'staff')),
    result_type text NOT NULL DEFAULT '',
    retired_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every key groups already use becomes one variable. When groups disagree
-- on a key's label or type, the oldest group's (lowest id, first row) wins;
-- the other groups keep their own copy unchanged (see docs/attributes.md).
INSERT INTO attributes (key, label, type, visibility, result_type)
SELECT DISTINCT ON (x.a->>'key')
       x.a->>'key',
       left(COALESCE(NULLIF(btrim(x.a->>'label'), ''), x.a->>'key'), 100),
       COALESCE(NULLIF(x.a->>'type', ''), 'text'),
       COALESCE(NULLIF(x.a->>'visibility', ''), 'recipient'),
       COALESCE(x.a->>'result_type', '')
FROM groups g, jsonb_array_elements(g.attributes) WITH ORDINALITY AS x(a, ord)
WHERE x.a->>'key' ~ '^[a-z][a-z0-9_]{0,39}$'
ORDER BY x.a->>'key', g.id, x.ord;

-- +goose Down
DROP TABLE attributes;
