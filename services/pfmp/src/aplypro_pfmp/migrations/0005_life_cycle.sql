-- PFMP life cycle (issue 10): what pfmp learns from the other services to guard edits, deletions and
-- validation, and who did what.

-- The class of a schooling, for "one PFMP for a whole class" (null for schoolings projected before it).
ALTER TABLE schoolings ADD COLUMN class_label text;

-- The payment requests of each PFMP, from the calculator's events (calc_*) and the gateway's (asp_*). Each
-- producer has its own version sequence: an older event of one producer is dropped (-1: none seen yet).
-- The gateway's state, once known, is the request's state.
CREATE TABLE payment_requests (
    payment_request_id uuid PRIMARY KEY,
    pfmp_id            uuid NOT NULL,
    requested_at       timestamptz,           -- when the calculator created it (PaymentRequested)
    first_seen         timestamptz NOT NULL,  -- the order of requests seen only through the gateway
    calc_state         text,
    calc_version       int NOT NULL DEFAULT -1,
    asp_state          text,
    asp_version        int NOT NULL DEFAULT -1
);
CREATE INDEX payment_requests_pfmp ON payment_requests (pfmp_id);

-- A PFMP the ASP integrated (a prestation dossier exists): it can never be deleted. Monotonic, so a late
-- stale event still sets it.
CREATE TABLE pfmps_known_to_asp (pfmp_id uuid PRIMARY KEY);

-- The decisions documents issued for each schooling (DocumentReady: attribution, retrait, abrogation).
CREATE TABLE decisions (
    schooling_id uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('attribution', 'retrait', 'abrogation')),
    version      int NOT NULL,
    PRIMARY KEY (schooling_id, kind)
);

-- A current RIB of the student for an establishment, from the bank-data-free RibOnFile fact.
CREATE TABLE ribs_on_file (
    student_id uuid NOT NULL,
    uai        text NOT NULL,
    PRIMARY KEY (student_id, uai)
);

-- Audit trail of staff actions: who (an internal user id, never a name), what, when, which PFMP.
CREATE TABLE pfmp_actions (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    user_id      text NOT NULL CHECK (user_id <> ''),
    action       text NOT NULL,
    pfmp_id      uuid,
    pfmp_version int
);
CREATE INDEX pfmp_actions_pfmp ON pfmp_actions (pfmp_id);
