-- SchoolingRetracted (imports.md §3.4): a producer withdraws a schooling it sent by mistake.
-- The schooling each producer record landed in (set when a SchoolingReported is applied; NULL for records
-- applied before this migration, whose retraction is then refused as unknown_record), and when the
-- record was retracted: a later report of it is refused (record_retracted).
ALTER TABLE inbound_records ADD COLUMN schooling_id uuid REFERENCES schoolings,
                            ADD COLUMN retracted_at timestamptz;

-- A retracted schooling is hidden (SchoolingHiddenChanged, so every consumer drops it) for good: staff
-- cannot reintegrate it (hide_schooling.py refuses, schooling.retracted).
ALTER TABLE schoolings ADD COLUMN retracted_at timestamptz;

-- What the other services tell us of a schooling's money, read from their events (never their schema):
-- a décision d'attribution issued (documents' DocumentReady of kind attribution) or a payment requested
-- (the calculator's PaymentRequested). Either makes a retraction a human's decision (retract_refused).
-- No foreign key: a fact is kept whatever order the topics are read in.
CREATE TABLE schooling_money_facts (
    schooling_id       uuid PRIMARY KEY,
    decision_issued_at timestamptz,  -- occurred_at of the first attribution seen
    payment_requested_at timestamptz -- occurred_at of the first payment request seen
);
