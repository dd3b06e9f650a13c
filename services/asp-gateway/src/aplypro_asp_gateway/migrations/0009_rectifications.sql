-- Issue 11, rectifications (asp-exchange.md §8): the record variant each request left as, so that a PFMP's
-- first payment and its modification records (rectification up / down, full cancellation) are told apart
-- (status, the drill: a modification carries the NUMADM of a first payment on purpose).
ALTER TABLE file_records
    ADD COLUMN variant text
        CHECK (variant IN ('first_payment', 'rectification_up', 'rectification_down', 'cancellation'));
-- Records of files built before: a first payment is one; a non-first record was a duplicate (no variant).
UPDATE file_records SET variant = 'first_payment' WHERE first_payment;
-- A first payment is written as one, a modification never (one PFMP, one creation: §9.2).
ALTER TABLE file_records ADD CONSTRAINT file_records_variant_matches
    CHECK (variant IS NULL OR (variant = 'first_payment') = first_payment);
-- A rectification waiting for its PFMP's earlier request: found by PFMP when that request is answered.
CREATE INDEX payment_requests_pfmp ON payment_requests (pfmp_id);

-- Address-correction answers (§4.9, §5.5): no state change, every line kept with its outcome for operators
-- (`status`): the ids held confirmed, a mismatch ("dossier: expected X, got Y": ASP ids, no personal data),
-- a reject (its reason key), or a record we do not know.
CREATE TABLE address_correction_returns (
    file_name          text NOT NULL,
    sha256             text NOT NULL,
    line_no            int NOT NULL,
    kind               text NOT NULL,
    record_id          bigint,
    payment_request_id uuid REFERENCES payment_requests,
    outcome            text NOT NULL CHECK (outcome IN ('confirmed', 'ids_mismatch', 'rejected', 'unknown_record',
                                                        'invalid')),
    mismatches         text[] NOT NULL DEFAULT '{}',
    reason             text,
    seen_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file_name, sha256, line_no),
    -- written before the file's own row, in the same transaction
    FOREIGN KEY (file_name, sha256) REFERENCES return_files DEFERRABLE INITIALLY DEFERRED
);
