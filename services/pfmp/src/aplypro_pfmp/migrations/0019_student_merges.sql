-- imports.md §5.8: the students service merged two students (StudentsMerged). The merged student's schoolings,
-- PFMPs, reports and RIB facts move to the survivor; its row stays (its id is known) pointing to the survivor,
-- so that a PFMP file naming its INE finds the survivor's schoolings. A replayed merge is recognised here.
ALTER TABLE students ADD COLUMN merged_into uuid;
CREATE TABLE student_merges (
    merged_id   uuid PRIMARY KEY,
    survivor_id uuid NOT NULL CHECK (survivor_id <> merged_id),
    version     int NOT NULL,
    merged_at   timestamptz NOT NULL DEFAULT now()
);
