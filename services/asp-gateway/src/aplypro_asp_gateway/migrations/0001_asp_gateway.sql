-- What the gateway knows of students: only what a payment file needs (no INE, no street lines).
-- `as_of` is the event's occurred_at: an older event never overwrites a newer one.
CREATE TABLE students (
    student_id            uuid PRIMARY KEY,
    last_name             text NOT NULL,
    first_names           text[] NOT NULL,
    birth_date            date NOT NULL,
    sex                   text NOT NULL,
    birth_city_insee      text,
    birth_country_insee   text,
    address_postal_code   text,
    address_city_insee    text,
    address_country_insee text,
    as_of                 timestamptz NOT NULL
);

CREATE TABLE schoolings (
    schooling_id       uuid PRIMARY KEY,
    student_id         uuid NOT NULL,
    uai                text NOT NULL,
    contract_type_code text NOT NULL,
    mef_code           text NOT NULL,
    mef_ministry       text NOT NULL,
    school_year        int NOT NULL,
    status             text NOT NULL,
    start_date         date NOT NULL,
    end_date           date,
    as_of              timestamptz NOT NULL
);
CREATE INDEX schoolings_student ON schoolings (student_id);

-- The yearly cap comes from the calculator, possibly before the schooling itself: its own table.
CREATE TABLE schooling_caps (
    schooling_id     uuid PRIMARY KEY,
    yearly_cap_cents bigint,
    as_of            timestamptz NOT NULL
);

-- One active RIB per (student, establishment): a newer RibRecorded replaces it.
CREATE TABLE ribs (
    student_id  uuid NOT NULL,
    uai         text NOT NULL,
    rib_id      uuid NOT NULL,
    owner_type  text NOT NULL,
    holder_name text NOT NULL,
    iban        text NOT NULL,
    bic         text NOT NULL,
    as_of       timestamptz NOT NULL,
    PRIMARY KEY (student_id, uai)
);

-- Every payment file ever built, bytes frozen at build time: a name is never reused (§3.2, G1).
-- `written_at` stays NULL until the file is on disk, so a crash after the commit rewrites it.
CREATE TABLE asp_files (
    file_name    text PRIMARY KEY,
    name_stamp   timestamptz NOT NULL,
    record_count int NOT NULL CHECK (record_count > 0),
    sha256       text NOT NULL,
    content      bytea NOT NULL,
    built_at     timestamptz NOT NULL DEFAULT now(),
    written_at   timestamptz
);

CREATE TABLE payment_requests (
    payment_request_id uuid PRIMARY KEY,
    -- idEnregistrement is an xsd:long: a sequence number, unique across every file ever sent (§4.3)
    record_id          bigserial UNIQUE,
    pfmp_id            uuid NOT NULL,
    schooling_id       uuid NOT NULL,
    student_id         uuid NOT NULL,
    amount_cents       bigint NOT NULL CHECK (amount_cents >= 0),
    day_count          int NOT NULL,
    pfmp_rank          int NOT NULL,
    state              text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    blocking_reasons   text[] NOT NULL DEFAULT '{}',
    -- true when the request or its data changed since its last check: blocked requests are re-checked
    -- only then, so they never crowd ready ones out of a batch
    recheck            boolean NOT NULL DEFAULT true,
    rib_id             uuid,
    file_name          text REFERENCES asp_files,
    requested_event_id uuid NOT NULL,
    correlation_id     uuid NOT NULL,
    requested_at       timestamptz NOT NULL,
    sent_at            timestamptz,
    CHECK ((state = 'sent') = (file_name IS NOT NULL))
);
CREATE INDEX payment_requests_to_check ON payment_requests (record_id) WHERE state = 'pending' AND recheck;
CREATE INDEX payment_requests_pending_student ON payment_requests (student_id) WHERE state = 'pending';
-- One pending request per PFMP: two would pay the PFMP twice in the same file.
CREATE UNIQUE INDEX payment_requests_one_pending_per_pfmp ON payment_requests (pfmp_id) WHERE state = 'pending';
