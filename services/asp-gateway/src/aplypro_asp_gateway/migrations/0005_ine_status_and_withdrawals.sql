-- Issue 10: facts owned by other services that hold a request back at the gateway.

-- ine_not_found (lifecycles.md §4 #2), from the students service's StudentIneStatusChanged: the newest
-- version of each student's status is kept (an older or replayed event changes nothing).
CREATE TABLE student_ine_status (
    student_id uuid PRIMARY KEY,
    not_found  boolean NOT NULL,
    version    int NOT NULL CHECK (version >= 0)
);

-- attributive_decision_cancelled (§4 #15): schoolings whose décision d'attribution was withdrawn (the
-- documents service's DocumentReady of kind `retrait`). Final: a retrait is never undone. The calculator
-- re-evaluates only the requests it has not handed over; one already here as ready is held back by this.
CREATE TABLE withdrawn_schoolings (
    schooling_id uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    withdrawn_at timestamptz NOT NULL
);
