-- Issue 11, the address-correction file (asp-exchange.md §4.9, §5.5) built and sent by the gateway.

-- A correction file is kept with the payment files: same frozen bytes and hash, same handover (uploaded exactly
-- once whatever crash happens, G2) and counted in the same daily file cap (§3.4, G6). Its upload moves no request
-- (no request is bound to it: file_name stays on the payment file).
ALTER TABLE asp_files ADD COLUMN kind text NOT NULL DEFAULT 'payment'
    CHECK (kind IN ('payment', 'address_correction'));

-- One row per ENREGISTREMENT of a correction file: the PFMP's latest request (its id is idEnregistrement, sent
-- before in a payment file on purpose, hence not in file_records) and the ASP ids the file carried. The answer
-- (§5.5) is matched by the file's name, then by record id within it.
CREATE TABLE correction_records (
    file_name          text NOT NULL REFERENCES asp_files,
    record_id          bigint NOT NULL,
    payment_request_id uuid NOT NULL REFERENCES payment_requests,
    pfmp_id            uuid NOT NULL,
    asp_individual_id  text NOT NULL,
    asp_dossier_id     text NOT NULL,
    asp_prestation_id  text NOT NULL,
    PRIMARY KEY (file_name, record_id)
);
CREATE INDEX correction_records_pfmp ON correction_records (pfmp_id);

-- An answer naming a correction file we never built is kept as such.
ALTER TABLE address_correction_returns DROP CONSTRAINT address_correction_returns_outcome_check;
ALTER TABLE address_correction_returns ADD CONSTRAINT address_correction_returns_outcome_check
    CHECK (outcome IN ('confirmed', 'ids_mismatch', 'rejected', 'unknown_record', 'upload_unknown', 'invalid'));
-- A reject's `Motif rejet` as the ASP wrote it (§5.5: reported with the request id): for operators reading the
-- table; never logged nor printed by `status` (it may quote an IBAN or a name), which shows the reason's key.
ALTER TABLE address_correction_returns ADD COLUMN motif text;
