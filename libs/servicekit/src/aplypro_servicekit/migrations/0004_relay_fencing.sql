-- The relay leader of this schema. A relay raises `epoch` when it gets the relay lock; it takes a lease
-- only in a transaction that share-locks this row at its own epoch, so once another relay was elected
-- (which waits for those lease transactions) a relay that lost the lock can no longer lease anything.
CREATE TABLE relay_leader (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),  -- one row
    epoch       bigint NOT NULL,
    holder      text,          -- host/pid of the leading relay process (operators, tests)
    backend_pid int,           -- its lock connection
    elected_at  timestamptz
);
INSERT INTO relay_leader (epoch) VALUES (0);

-- The epoch a lease was taken under: a new leader leaves a live lease of another epoch alone (and
-- waits for it to end), so two relays never publish at once and per-key order holds.
ALTER TABLE outbox_batch ADD COLUMN lease_epoch bigint;

-- Messages the relay could not publish because they are too large (written before the size guard, or
-- refused by a broker with a lower limit): kept here with the reason, while the rest goes out in order.
CREATE TABLE outbox_parked (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL,
    key        bytea,
    headers    jsonb NOT NULL,
    payload    bytea NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
