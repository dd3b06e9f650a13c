-- The report (extension) of each schooling as pfmp announces it (SchoolingExtended): it replaces the end of a
-- closed schooling's dates for "the PFMP lies within its schooling's dates" (lifecycles.md §3 and §4, reason
-- pfmp_outside_schooling_dates). Only a newer version replaces a row; a null date: the report was removed. A
-- row may exist before the calculator knows the schooling (another topic).
CREATE TABLE schooling_reports (
    schooling_id      uuid PRIMARY KEY,
    student_id        uuid NOT NULL,
    extended_end_date date,
    version           int NOT NULL
);
