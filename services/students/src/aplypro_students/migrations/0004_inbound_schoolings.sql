-- Schoolings pushed by other ministries' systems (imports.md §3.4, docs/producers.md): the last
-- source_version applied for each of a producer's records, so that an older or repeated version is skipped
-- (counted, not rejected) instead of being applied over a newer one. Idempotency on (producer, event_id) is
-- the inbox's: one consumer name per producer.
CREATE TABLE inbound_records (
    producer         text NOT NULL,
    source_record_id text NOT NULL,
    source_version   bigint NOT NULL CHECK (source_version >= 0),
    event_id         uuid NOT NULL,  -- the producer's id of the event that carried this version
    applied_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (producer, source_record_id)
);
