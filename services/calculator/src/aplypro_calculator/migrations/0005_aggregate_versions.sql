-- Aggregate versions (issue 9, "stale events are dropped, not applied"). A PFMP or schooling keeps the
-- version of the event its facts came from; an event that is not newer is dropped and counted. 0: facts
-- from a v1 event (no version), older than any versioned one.
ALTER TABLE pfmps ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
ALTER TABLE schoolings ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);

ALTER TABLE payment_requests
    -- The request's own version, owned here: +1 at each change, carried by PaymentRequested/Blocked.
    ADD COLUMN version int NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- The gateway's sequence of the last ASP return applied (PaymentRequestSent/StateChanged).
    ADD COLUMN asp_version int NOT NULL DEFAULT 0 CHECK (asp_version >= 0);

-- Events dropped because they were not newer than the state held, by type (operators, the drill).
CREATE TABLE stale_events (
    event_type text PRIMARY KEY,
    dropped    bigint NOT NULL DEFAULT 0
);
