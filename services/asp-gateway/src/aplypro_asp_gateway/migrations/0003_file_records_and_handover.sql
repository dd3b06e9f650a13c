-- Issue 9, money safety: every record of every payment file, the first-payment guards, and the handover
-- stage of each file.

-- Whether a request is the one of a rectified PFMP (PaymentRequested.rectification): the gateway writes
-- only first-payment records, so a rectification of a PFMP already sent waits (rectification_not_supported).
ALTER TABLE payment_requests ADD COLUMN rectification boolean NOT NULL DEFAULT false;

-- One row per ENREGISTREMENT ever put in a file (G1): a request is in at most one file (primary key).
CREATE TABLE file_records (
    payment_request_id uuid PRIMARY KEY REFERENCES payment_requests,
    file_name          text NOT NULL REFERENCES asp_files,
    record_id          bigint NOT NULL UNIQUE,
    pfmp_id            uuid NOT NULL,
    -- PRESTADOSS/NUMADM, the PFMP number; NULL only for records of files built before this table
    pfmp_number        text,
    -- a record without ASP ids: the ASP creates the prestation from it
    first_payment      boolean NOT NULL
);
CREATE INDEX file_records_file ON file_records (file_name);
-- A PFMP has exactly one first-payment record across all files ever built, and a PFMP number is sent
-- once as a first payment: a second one would pay the PFMP twice (issue 9, "one period, one payment").
CREATE UNIQUE INDEX file_records_one_first_payment_per_pfmp ON file_records (pfmp_id) WHERE first_payment;
CREATE UNIQUE INDEX file_records_one_first_payment_per_numadm ON file_records (pfmp_number) WHERE first_payment;

-- Files built before: their records, the earliest of a PFMP as its first payment (a duplicate already sent
-- stays visible as a non-first record instead of failing the migration).
INSERT INTO file_records (payment_request_id, file_name, record_id, pfmp_id, pfmp_number, first_payment)
SELECT payment_request_id, file_name, record_id, pfmp_id, NULL,
       row_number() OVER (PARTITION BY pfmp_id ORDER BY record_id) = 1
FROM payment_requests WHERE state = 'sent';

-- Handover stage: `staged_at` is set once the temporary copy is durable on disk, before the rename into the
-- drop folder. A file staged but not written was perhaps already renamed and taken: it is never rewritten.
ALTER TABLE asp_files
    ADD COLUMN staged_at timestamptz,
    -- true when a staged file was found under neither name: the uploader took it before the mark (G2)
    ADD COLUMN handover_unconfirmed boolean NOT NULL DEFAULT false;
