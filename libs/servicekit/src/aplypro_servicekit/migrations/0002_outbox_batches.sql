-- The outbox keeps one row per transaction (per batch of events) instead of one row per event: a
-- consumer batch of thousands of events is one insert, one lease and one delete, which is what lets one
-- instance publish at broker speed. Messages stay in order inside a row, rows in id order.
CREATE TABLE outbox_batch (
    id          bigserial PRIMARY KEY,
    size        int NOT NULL CHECK (size > 0),  -- messages in the row, without reading the arrays
    payloads    bytea[] NOT NULL,               -- the message values, byte for byte
    -- [[topic, base64 key, {header: value}], ...] in the same order: one JSON text is much cheaper to write
    -- and read than three more arrays
    envelopes   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    lease_token uuid,
    lease_until timestamptz,
    CHECK (cardinality(payloads) = size)
);
-- Read once and deleted: compressing them would cost CPU for nothing.
ALTER TABLE outbox_batch ALTER COLUMN payloads SET STORAGE EXTERNAL,
                         ALTER COLUMN envelopes SET STORAGE EXTERNAL;

-- Events not yet published when this migration runs move over in order, one per row.
INSERT INTO outbox_batch (size, payloads, envelopes, created_at)
SELECT 1, ARRAY[payload], jsonb_build_array(jsonb_build_array(topic, encode(key, 'base64'), headers))::text,
       created_at
FROM outbox ORDER BY id;
DROP TABLE outbox;

-- One row per message, for reading (operators, tests): ordered like the relay publishes them.
CREATE VIEW outbox AS
SELECT b.id * 1000000 + p.n AS id, e.envelope->>0 AS topic, decode(e.envelope->>1, 'base64') AS key,
       p.payload, e.envelope->2 AS headers, b.created_at
FROM outbox_batch b
CROSS JOIN LATERAL unnest(b.payloads) WITH ORDINALITY AS p(payload, n)
JOIN LATERAL jsonb_array_elements(b.envelopes::jsonb) WITH ORDINALITY AS e(envelope, n) ON e.n = p.n;
