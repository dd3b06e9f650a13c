-- Payment requests over time: retries and rectifications give a PFMP several requests (lifecycles.md §2).
DROP INDEX payment_requests_one_per_pfmp;

ALTER TABLE payment_requests
    ADD COLUMN seq bigserial,  -- creation order: "the PFMP's latest request" is the one with the highest seq
    ADD COLUMN kind text NOT NULL DEFAULT 'payment' CHECK (kind IN ('payment', 'rectification')),
    ADD COLUMN reasons text[] NOT NULL DEFAULT '{}',  -- calculator blocking reasons, all of them
    ADD COLUMN base_cents int CHECK (base_cents >= 0),  -- rectification: total last accepted by ASP
    ADD COLUMN asp_reasons text[] NOT NULL DEFAULT '{}',  -- reasons the gateway or ASP gave (reject, unpaid)
    ADD COLUMN paid_amount numeric,  -- MTNET as ASP returned it, never truncated (calculation.md §3.1)
    ADD COLUMN paid_mismatch boolean NOT NULL DEFAULT false,  -- MTNET differs from what was sent: review
    ADD COLUMN recovery boolean NOT NULL DEFAULT false,  -- paid = a recovery order was issued
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ALTER COLUMN amount_cents DROP NOT NULL;  -- a request blocked before any amount exists has none

ALTER TABLE payment_requests
    ADD CONSTRAINT payment_requests_state CHECK (
        state IN ('pending', 'incomplete', 'ready', 'sent', 'integrated', 'rejected', 'paid', 'unpaid')),
    -- a request that went to ASP carries the amount frozen when it became ready
    ADD CONSTRAINT payment_requests_frozen_amount CHECK (state IN ('pending', 'incomplete') OR amount_cents IS NOT NULL);

-- At most one active request (pending, ready, sent, integrated) per PFMP: this partial unique index guards it.
CREATE UNIQUE INDEX payment_requests_one_active_per_pfmp ON payment_requests (pfmp_id)
    WHERE state IN ('pending', 'ready', 'sent', 'integrated');
CREATE INDEX payment_requests_latest ON payment_requests (pfmp_id, seq DESC);
CREATE INDEX payment_requests_open ON payment_requests (state) WHERE state IN ('pending', 'incomplete');

-- Exclusions (calculation.md §4): (UAI, MEF or NULL = whole establishment, school year or NULL = every year).
CREATE TABLE exclusions (
    uai          text NOT NULL CHECK (uai = upper(uai)),
    mef_code     text,
    school_year  int,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exclusions_one_row ON exclusions (uai, coalesce(mef_code, ''), coalesce(school_year, 0));
CREATE INDEX schoolings_uai ON schoolings (uai);
