-- Aggregate versions (issue 9, "stale events are dropped, not applied"): the projection keeps the version
-- of the event each row came from and applies an event only if it is newer. 0: a row or an event from
-- before versions (v1); between two of those the older rule stays: the newest occurred_at wins.
ALTER TABLE schoolings ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
ALTER TABLE ribs ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
ALTER TABLE payment_requests
    -- the calculator's version of the request, from its PaymentRequested
    ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0),
    -- the gateway's own sequence of its events about the request (PaymentRequestSent carries it)
    ADD COLUMN event_version int NOT NULL DEFAULT 0 CHECK (event_version >= 0);

-- Events dropped because they were not newer than the row held, by type (operators, the drill).
CREATE TABLE stale_events (
    event_type text PRIMARY KEY,
    dropped    bigint NOT NULL DEFAULT 0
);
