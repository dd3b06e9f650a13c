-- Abrogations, retraits and états liquidatifs issued from events (documents.md §5.2–§5.4).

-- Dates and status of each schooling: an abrogation needs to know which one is closed and which is newer.
-- Nullable: schoolings projected before this migration get them at their next SchoolingOpened.
ALTER TABLE schoolings ADD COLUMN start_date date;
ALTER TABLE schoolings ADD COLUMN end_date date;
ALTER TABLE schoolings ADD COLUMN status text;

-- An abrogation, a retrait and an état liquidatif carry the number of the DA they refer to, so a number
-- is unique per kind and version only. Every number ever issued stays searchable (documents.md §6).
ALTER TABLE documents DROP CONSTRAINT documents_number_key;
ALTER TABLE documents ADD CONSTRAINT documents_kind_number_version_key UNIQUE (kind, number, version);
CREATE INDEX documents_number ON documents (number);
-- Hash of the rendering input (without signature time or version): an identical reissue is skipped.
ALTER TABLE documents ADD COLUMN input_sha256 text;

-- What a queued document needs beyond the projections (a retrait's reason and requester).
ALTER TABLE render_queue ADD COLUMN detail jsonb;
ALTER TABLE render_queue ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();

-- The student's current bank account per establishment (RibRecorded, restricted topic): personal data,
-- read only to print the état liquidatif, never logged.
CREATE TABLE ribs (
    student_id        uuid NOT NULL,
    establishment_uai text NOT NULL,
    rib_id            uuid NOT NULL,
    owner_type        text NOT NULL,
    holder_name       text NOT NULL,
    iban              text NOT NULL,
    bic               text NOT NULL,
    recorded_at       timestamptz NOT NULL,
    PRIMARY KEY (student_id, establishment_uai)
);

-- PFMP dates and rank (PfmpRecorded / PfmpValidated); the PFMP number is stored once and never changes.
CREATE TABLE pfmps (
    pfmp_id      uuid PRIMARY KEY,
    schooling_id uuid NOT NULL,
    student_id   uuid NOT NULL,
    start_date   date NOT NULL,
    end_date     date NOT NULL,
    status       text NOT NULL,
    rank         int NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    validated_on date,
    pfmp_number  text
);
CREATE INDEX pfmps_schooling ON pfmps (schooling_id);

-- Payment requests of the calculator: one état liquidatif section per PFMP that has one.
CREATE TABLE payment_requests (
    payment_request_id uuid PRIMARY KEY,
    pfmp_id            uuid NOT NULL,
    schooling_id       uuid NOT NULL,
    amount_cents       int NOT NULL CHECK (amount_cents >= 0),
    day_count          int NOT NULL,
    pfmp_rank          int NOT NULL,
    requested_at       timestamptz NOT NULL
);
CREATE INDEX payment_requests_schooling ON payment_requests (schooling_id);
