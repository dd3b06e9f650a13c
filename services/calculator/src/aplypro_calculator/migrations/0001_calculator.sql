-- Schoolings as the calculator sees them: the MEF attributes and the barème applied.
CREATE TABLE schoolings (
    schooling_id      uuid PRIMARY KEY,
    student_id        uuid NOT NULL,
    uai               text NOT NULL,
    school_year       int NOT NULL,
    mef_code          text NOT NULL,
    mef               jsonb NOT NULL,
    status            text NOT NULL,
    daily_rate_cents  int,
    yearly_cap_cents  int,
    legal_reference   text,
    unpriced_reason   text
);
CREATE INDEX schoolings_pool ON schoolings (student_id, mef_code, school_year);

-- PFMP facts (from the pfmp service) and the amount computed for each.
CREATE TABLE pfmps (
    pfmp_id       uuid PRIMARY KEY,
    schooling_id  uuid NOT NULL,
    student_id    uuid NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL,
    day_count     int,
    status        text NOT NULL,
    created_seq   bigint NOT NULL,
    rank          int NOT NULL,
    deleted       boolean NOT NULL DEFAULT false,
    amount_cents  int CHECK (amount_cents >= 0),
    explanation   jsonb NOT NULL DEFAULT '[]',  -- the steps that gave the amount, stored with it
    computed_at   timestamptz
);
CREATE INDEX pfmps_student ON pfmps (student_id);
CREATE INDEX pfmps_schooling ON pfmps (schooling_id);

-- Payment requests: the amount is frozen when the request becomes ready (committed amount).
CREATE TABLE payment_requests (
    payment_request_id uuid PRIMARY KEY,
    pfmp_id            uuid NOT NULL REFERENCES pfmps,
    state              text NOT NULL,
    amount_cents       int NOT NULL CHECK (amount_cents >= 0),
    created_at         timestamptz NOT NULL DEFAULT now()
);
-- one request per PFMP until rectifications arrive: a partial unique index guards it
CREATE UNIQUE INDEX payment_requests_one_per_pfmp ON payment_requests (pfmp_id);
