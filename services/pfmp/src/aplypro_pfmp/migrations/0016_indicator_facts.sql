-- The facts the statistics indicators of features.md §4 need beyond PFMPs and requests, each from an event
-- pfmp already receives (never another service's schema):
-- * the barème of each schooling (the calculator's SchoolingPriced): `yearly_sum` sums the yearly caps and the
--   theoretical `pfmps_incompleted_sum` uses the daily rate. No version on the event: the newest by occurred_at
--   wins (one partition per student keeps the order, the timestamp guards a replay), as pfmp_amounts.
CREATE TABLE schooling_prices (
    schooling_id     uuid PRIMARY KEY,
    daily_rate_cents bigint CHECK (daily_rate_cents >= 0),  -- null: the schooling is not priced
    yearly_cap_cents bigint CHECK (yearly_cap_cents >= 0),
    priced_at        timestamptz NOT NULL
);

-- * whether a student's data is ready for the ASP (`students_data_count`): computed from the identity each
--   StudentRegistered carries (no personal data added here: a yes/no); null until the next StudentRegistered
--   of a student projected before this migration (a replay of the students topic fills it).
ALTER TABLE students ADD COLUMN asp_data_ready boolean;

-- The student API's answer for the INE (StudentIneStatusChanged, versioned per student; no INE in it): an INE
-- "not found" is not valid. Its own table: the fact may come before the student's StudentRegistered.
CREATE TABLE student_ine_status (
    student_id    uuid PRIMARY KEY,
    ine_not_found boolean NOT NULL,
    version       int NOT NULL CHECK (version >= 1)
);

-- * what the ASP answered for a paid request (PaymentRequestStateChanged): its net amount (MTNET) in cents, or,
--   for a recovery order (`recovery`), the amount claimed (|MTDEMANDEOR|). `payment_requests_paid_sum` sums the
--   net amounts of paid non-recovery requests; `payment_requests_recovery_sum` the recoveries (asp-exchange.md
--   §5.4: a recovery never counts as paid).
ALTER TABLE payment_requests
    ADD COLUMN paid_cents bigint CHECK (paid_cents >= 0),
    ADD COLUMN recovery   boolean NOT NULL DEFAULT false;
