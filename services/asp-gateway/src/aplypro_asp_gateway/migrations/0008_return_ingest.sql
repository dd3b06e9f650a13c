-- Issue 11, ASP returns (asp-exchange.md §5, §9.2 G3/G4): the requests move on past `sent`
-- (lifecycles.md §2), the ASP ids are kept for later modification records, every return file ingested is
-- remembered by name and hash, and every line that matches nothing is kept for operators.

-- sent → integrated / rejected, integrated → paid / unpaid; a request in any of them went out in a file.
ALTER TABLE payment_requests DROP CONSTRAINT IF EXISTS payment_requests_state_check;
ALTER TABLE payment_requests DROP CONSTRAINT IF EXISTS payment_requests_check;
ALTER TABLE payment_requests
    ADD CONSTRAINT payment_requests_state_check
        CHECK (state IN ('pending', 'sent', 'integrated', 'rejected', 'paid', 'unpaid')),
    ADD CONSTRAINT payment_requests_file_once_sent CHECK ((state = 'pending') = (file_name IS NULL)),
    -- The ASP's ids from the integration line (§5.1), digit strings emitted verbatim in modification records.
    ADD COLUMN asp_individual_id     text,
    ADD COLUMN asp_dossier_id        text,
    ADD COLUMN asp_prestation_id     text,
    ADD COLUMN asp_prestation_numadm text,
    -- rejected / unpaid: the reason keys of the errors dictionary (§6), words in domain/asp_errors.py
    ADD COLUMN return_reasons        text[] NOT NULL DEFAULT '{}',
    -- paid: MTNET in cents (a recovery: |MTDEMANDEOR|) and DATEPAIEMENT (a recovery: DATEOREFFECTIF)
    ADD COLUMN paid_cents            bigint CHECK (paid_cents >= 0),
    ADD COLUMN paid_on               date,
    ADD COLUMN recovery              boolean NOT NULL DEFAULT false,
    -- the return line that moved the request last (file name, line number)
    ADD COLUMN answered_by_file      text,
    ADD COLUMN answered_by_line      int,
    ADD COLUMN answered_at           timestamptz;
-- A payment line names a prestation: its PFMP's requests (one integrated at most, §5.3).
CREATE INDEX payment_requests_prestation ON payment_requests (asp_prestation_id) WHERE asp_prestation_id IS NOT NULL;
CREATE UNIQUE INDEX payment_requests_one_integrated_per_pfmp ON payment_requests (pfmp_id) WHERE state = 'integrated';

-- Every return file ingested (G3): the same name and bytes again change nothing. A refused file (truncated,
-- malformed) is not here: it is read again when complete. Counts per outcome of its lines.
CREATE TABLE return_files (
    file_name   text NOT NULL,
    sha256      text NOT NULL,
    kind        text NOT NULL,
    upload_name text,  -- CSV answers: the payment file they answer
    ingested_at timestamptz NOT NULL DEFAULT now(),
    lines       int NOT NULL,
    applied     int NOT NULL,  -- a request moved
    duplicates  int NOT NULL,  -- the target state was already reached by the same answer
    unmatched   int NOT NULL,  -- kept in unmatched_return_lines
    PRIMARY KEY (file_name, sha256)
);

-- Every line that matched nothing or could not be applied (G4: unmatched, conflict, invalid): reported, never
-- ignored. Keys and reason keys only: the ASP's free text may carry a name or an IBAN.
CREATE TABLE unmatched_return_lines (
    file_name     text NOT NULL,
    sha256        text NOT NULL,
    line_no       int NOT NULL,
    kind          text NOT NULL,
    record_id     bigint,
    numadm        text,
    prestation_id text,
    why           text NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file_name, sha256, line_no),
    FOREIGN KEY (file_name, sha256) REFERENCES return_files
);

-- G4: a payment or recovery file naming a prestation no integration line gave yet, while requests are still
-- `sent` (their integration answer not read yet), waits for the next poll once, then is ingested whatever.
CREATE TABLE deferred_return_files (
    file_name   text NOT NULL,
    sha256      text NOT NULL,
    deferred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file_name, sha256)
);
