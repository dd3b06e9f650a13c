-- Pools over their yearly cap (Σ committed > cap, calculation.md §3.3, §5.6): reported when a recomputation finds
-- one (a student merge after both students' requests left for the ASP, a barème lowered after payment), resolved
-- when a later one finds it no longer over (the operator's repair rectified the excess). Ids and cents only.
CREATE TABLE over_cap_pools (
    student_id      uuid NOT NULL,
    mef_code        text NOT NULL,
    school_year     int NOT NULL,
    committed_cents bigint NOT NULL,
    cap_cents       bigint NOT NULL,
    cause_event_id  uuid NOT NULL,  -- the event whose recomputation found it over (a StudentsMerged...)
    seen_at         timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    PRIMARY KEY (student_id, mef_code, school_year)
);
CREATE INDEX over_cap_pools_open ON over_cap_pools (student_id) WHERE resolved_at IS NULL;
