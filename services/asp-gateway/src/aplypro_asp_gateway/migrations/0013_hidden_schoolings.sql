-- hidden_schooling: whether the students service hides each schooling (SchoolingHiddenChanged: staff removed a
-- learner who never came, or the ministry that reported it retracted it). A hidden schooling is not paid
-- (lifecycles.md §3 "remove"); the calculator blocks the requests it has not handed over, and a request already
-- here as ready is held back by this. The newest version of each schooling's hiding is kept; staff may
-- reintegrate (hidden = false), which releases it.
CREATE TABLE hidden_schoolings (
    schooling_id uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    hidden       boolean NOT NULL,
    version      int NOT NULL CHECK (version >= 0)
);
