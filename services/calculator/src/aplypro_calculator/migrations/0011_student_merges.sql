-- imports.md §5.8: the students service merged two students (StudentsMerged). The yearly cap is per student:
-- everything held under the merged student's id moves to the survivor, so the two students' PFMPs share one
-- cap. An event still about the merged student (read late, from its own partition) is re-pointed on arrival.
CREATE TABLE merged_students (
    merged_id   uuid PRIMARY KEY,
    survivor_id uuid NOT NULL CHECK (survivor_id <> merged_id),
    version     int NOT NULL,
    merged_at   timestamptz NOT NULL DEFAULT now()
);
