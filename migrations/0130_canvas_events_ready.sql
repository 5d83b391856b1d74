-- +goose Up
-- The inbox's events are processed through their jobs (canvas.event, by id)
-- since the one job engine took over: nothing reads received events in
-- run_at order any more, and this index only cost every webhook delivery
-- an index insert.
DROP INDEX canvas_events_ready;

-- +goose Down
CREATE INDEX canvas_events_ready ON canvas_events (run_at, id) WHERE state = 'received';
