-- Outbox: events written in the same transaction as the state they describe; the relay publishes them.
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    payload     bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    lease_token uuid,
    lease_until timestamptz
);

-- Inbox: one row per processed event and consumer; its primary key makes redeliveries no-ops.
CREATE TABLE IF NOT EXISTS processed_messages (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    body_sha256  text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
