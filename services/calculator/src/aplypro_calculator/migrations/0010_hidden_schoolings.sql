-- Whether the students service hides each schooling (SchoolingHiddenChanged: staff removed a learner who never
-- came, or the ministry that reported it retracted it). A hidden schooling is not paid (lifecycles.md §3
-- "remove"): its PFMPs hold nothing and its open requests are blocked with `hidden_schooling`. Only a newer
-- version replaces a row; a row may exist before the calculator knows the schooling.
CREATE TABLE hidden_schoolings (
    schooling_id uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    hidden       boolean NOT NULL,
    version      int NOT NULL
);
