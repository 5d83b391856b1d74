-- +goose Up
-- Every custom attribute of a group gets a visibility (public, recipient or
-- staff). Attributes the group's design prints were already on the public
-- certificate, so they stay public; every other one becomes "recipient"
-- (the recipient, their instructors in the LMS and staff), the default for
-- new attributes. Attributes that already have one keep it.
UPDATE groups g SET attributes = (
    SELECT COALESCE(jsonb_agg(
        CASE WHEN a ? 'visibility' THEN a
             ELSE a || jsonb_build_object('visibility',
                 CASE WHEN a->>'key' = ANY (d.printed_attributes) THEN 'public' ELSE 'recipient' END)
        END ORDER BY x.ord), '[]'::jsonb)
    FROM jsonb_array_elements(g.attributes) WITH ORDINALITY AS x(a, ord)
)
FROM designs d
WHERE d.id = g.design_id AND jsonb_array_length(g.attributes) > 0;

-- +goose Down
UPDATE groups SET attributes = (
    SELECT COALESCE(jsonb_agg((a - 'visibility') - 'result_type' ORDER BY x.ord), '[]'::jsonb)
    FROM jsonb_array_elements(attributes) WITH ORDINALITY AS x(a, ord)
)
WHERE jsonb_array_length(attributes) > 0;
