-- imports.md §5.8: an operator merges two stored students found to be one person (`merge-students`). The merged
-- student is kept as a tombstone pointing to the survivor, never deleted: its id stays known to other services
-- and an import of its INE lands on the survivor. `merge_version` is the survivor's StudentsMerged version.
ALTER TABLE students
    ADD COLUMN merged_into   uuid REFERENCES students CHECK (merged_into <> student_id),
    ADD COLUMN merged_at     timestamptz,
    ADD COLUMN merge_version int NOT NULL DEFAULT 0 CHECK (merge_version >= 0);

-- Both students enrolled in one class (the school typed the student twice): the merged student's schooling
-- moves to the survivor hidden, as a duplicate of the survivor's own (`folded_into`). It keeps its id (other
-- services hold PFMPs on it) but is left out of the (student, class) key that reconciliation upserts by.
ALTER TABLE schoolings ADD COLUMN folded_into uuid REFERENCES schoolings;
ALTER TABLE schoolings DROP CONSTRAINT schoolings_student_id_class_id_key;
CREATE UNIQUE INDEX schoolings_student_class ON schoolings (student_id, class_id) WHERE folded_into IS NULL;

-- One audit record per merge: who, when, what moved (ids and counts only, no personal data).
CREATE TABLE student_merges (
    merge_id    uuid PRIMARY KEY,
    survivor_id uuid NOT NULL REFERENCES students,
    merged_id   uuid NOT NULL UNIQUE REFERENCES students,
    merged_by   text NOT NULL CHECK (merged_by <> ''),
    ine_taken   boolean NOT NULL,  -- the survivor's placeholder INE gave way to the merged student's real one
    moved       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE review_items ADD COLUMN resolution text CHECK (resolution IN ('merged'));
