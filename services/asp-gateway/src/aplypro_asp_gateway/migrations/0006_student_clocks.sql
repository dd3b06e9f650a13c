-- One row per student that every writer of the student's facts and of its payment requests updates first:
-- the row lock serialises a facts transaction with a request's insertion, so the facts' re-check flag
-- always sees the request, or the request's first check sees the facts (issue 9: no lost wake-up).
CREATE TABLE student_clocks (
    student_id uuid PRIMARY KEY,
    ticks      bigint NOT NULL
);
