-- What the student page shows of each payment (issue 14): the amounts and every blocking reason, from the
-- events pfmp already consumes (PaymentRequested, PaymentRequestBlocked, PaymentRequestStateChanged) and two
-- it now reads too (PaymentRequestHeld from the gateway, AmountComputed from the calculator). Keys only: the
-- words are the web application's (entrypoints/web/reason_words.py).

-- The calculator's amount of the request and its blocking keys (cleared when it is requested again); the
-- gateway's return reasons (rejected, unpaid) with its state.
ALTER TABLE payment_requests
    ADD COLUMN amount_cents  bigint CHECK (amount_cents >= 0),
    ADD COLUMN calc_reasons  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN asp_reasons   text[] NOT NULL DEFAULT '{}',
    -- Why the gateway holds the request back (PaymentRequestHeld). Its version is the gateway's own sequence,
    -- shared with asp_version: the reasons are current while held_version > asp_version. Kept apart from
    -- asp_state so that the life-cycle guards read exactly what they read before.
    ADD COLUMN held_reasons  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN held_version  int NOT NULL DEFAULT -1;

-- The calculator's latest amount of each PFMP (AmountComputed: null when it has no day count or is
-- unpriced); the newest by occurred_at wins (the event carries no version; one partition per student keeps
-- the order, the timestamp guards a replay).
CREATE TABLE pfmp_amounts (
    pfmp_id      uuid PRIMARY KEY,
    amount_cents bigint CHECK (amount_cents >= 0),
    computed_at  timestamptz NOT NULL
);

-- The audit trail also records the payment request a relaunch names.
ALTER TABLE pfmp_actions ADD COLUMN payment_request_id uuid;
