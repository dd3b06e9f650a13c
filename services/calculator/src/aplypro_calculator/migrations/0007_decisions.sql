-- Décisions d'attribution (DA) as the documents service announces them (DocumentReady), one row per
-- schooling: the highest version announced of each kind, 0 when none. Flags only ever go up (issued,
-- abrogated, withdrawn are final in lifecycles.md §3), so the order in which the events arrive never
-- matters. A row may exist before the calculator knows the schooling (another topic).
CREATE TABLE decisions (
    schooling_id        uuid PRIMARY KEY,
    student_id          uuid NOT NULL,
    attribution_version int NOT NULL DEFAULT 0 CHECK (attribution_version >= 0),
    abrogation_version  int NOT NULL DEFAULT 0 CHECK (abrogation_version >= 0),
    withdrawal_version  int NOT NULL DEFAULT 0 CHECK (withdrawal_version >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_student ON decisions (student_id);

-- The schooling's dates (SchoolingOpened), for "the PFMP lies within this schooling's dates" (lifecycles.md
-- §3, reason needs_abrogated_attributive_decision). NULL start: unknown (a row stored before this migration,
-- until its schooling is sent again), read as "no dates". Appended last: the positional insert of
-- upsert_schoolings leaves them to their own statement.
ALTER TABLE schoolings ADD COLUMN start_date date, ADD COLUMN end_date date;
