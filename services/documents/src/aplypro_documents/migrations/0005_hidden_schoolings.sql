-- Whether the students service hides each schooling (SchoolingHiddenChanged: staff removed a learner who never
-- came, or the ministry that reported it retracted it). A hidden schooling gets no first décision d'attribution
-- (documents.md §6: the missing ones leave hidden schoolings out; lifecycles.md §3 "remove"); a reissue of a DA
-- it already has still covers it. The newest version of each schooling's hiding is kept.
CREATE TABLE hidden_schoolings (
    schooling_id uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    hidden       boolean NOT NULL,
    version      int NOT NULL CHECK (version >= 0)
);
