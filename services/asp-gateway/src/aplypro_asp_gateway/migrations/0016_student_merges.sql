-- Student merges (StudentsMerged, imports.md §5.8): what the gateway keeps by the merged student's id moves to
-- the survivor; an event still carrying the merged id, read later, lands on the survivor.
CREATE TABLE merged_students (
    merged_id   uuid PRIMARY KEY,
    survivor_id uuid NOT NULL,
    merged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merged_students_survivor ON merged_students (survivor_id);

-- The ASP individual id a student's next records carry when its requests hold several (both merged students
-- were known to the ASP: the survivor's is kept). Without a row: the latest integration's (requests_repo).
CREATE TABLE kept_asp_individuals (
    student_id        uuid PRIMARY KEY,
    asp_individual_id text NOT NULL
);

-- One person known to the ASP as two individuals: for an operator to settle with the ASP. ASP ids only.
CREATE TABLE asp_individual_conflicts (
    survivor_id  uuid NOT NULL,
    merged_id    uuid NOT NULL,
    kept_id      text NOT NULL,  -- the survivor's, carried by its next records
    other_id     text NOT NULL,  -- the merged student's, left at the ASP with what it was sent under
    seen_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (survivor_id, merged_id)
);
