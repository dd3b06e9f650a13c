-- Aggregate versions (issue 9, "stale events are dropped, not applied"): each projected row keeps the version
-- of the event it came from, and an event is applied only if it is newer. 0: from a v1 event (unversioned);
-- between two of those the rule before versions stays (the last read wins; for RIBs the newer occurred_at).
ALTER TABLE schoolings ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
ALTER TABLE ribs ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
ALTER TABLE pfmps ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);

-- Events dropped because they were not newer than the row held, by type (operators, the drill).
CREATE TABLE stale_events (
    event_type text PRIMARY KEY,
    dropped    bigint NOT NULL DEFAULT 0
);
