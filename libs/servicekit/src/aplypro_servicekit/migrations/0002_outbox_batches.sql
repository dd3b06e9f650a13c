-- The outbox keeps one row per transaction (per batch of events) instead of one row per event: a
-- consumer batch of thousands of events is one insert, one lease and one delete, which is what lets one
-- instance publish at broker speed. Messages stay in order inside a row, rows in id order.
CREATE TABLE outbox_batch (
    id          bigserial PRIMARY KEY,
    size        int NOT NULL CHECK (size > 0),  -- messages in the row, without reading the arrays
    topics      text[] NOT NULL,
    keys        bytea[] NOT NULL,
    payloads    bytea[] NOT NULL,
    headers     text[] NOT NULL,                -- one JSON object of string headers per message
    created_at  timestamptz NOT NULL DEFAULT now(),
    lease_token uuid,
    lease_until timestamptz,
    CHECK (cardinality(topics) = size AND cardinality(keys) = size AND cardinality(payloads) = size
           AND cardinality(headers) = size)
);
-- JSON payloads are read once and deleted: compressing them would cost CPU for nothing.
ALTER TABLE outbox_batch ALTER COLUMN payloads SET STORAGE EXTERNAL,
                         ALTER COLUMN headers SET STORAGE EXTERNAL,
                         ALTER COLUMN keys SET STORAGE EXTERNAL,
                         ALTER COLUMN topics SET STORAGE EXTERNAL;

-- Events not yet published when this migration runs move over in order, one per row.
INSERT INTO outbox_batch (size, topics, keys, payloads, headers, created_at)
SELECT 1, ARRAY[topic], ARRAY[key], ARRAY[payload], ARRAY[headers::text], created_at FROM outbox ORDER BY id;
DROP TABLE outbox;

-- One row per message, for reading (operators, tests): ordered like the relay publishes them.
CREATE VIEW outbox AS
SELECT b.id * 1000000 + m.n AS id, m.topic, m.key, m.payload, m.headers::jsonb AS headers, b.created_at
FROM outbox_batch b,
     unnest(b.topics, b.keys, b.payloads, b.headers) WITH ORDINALITY AS m(topic, key, payload, headers, n);
