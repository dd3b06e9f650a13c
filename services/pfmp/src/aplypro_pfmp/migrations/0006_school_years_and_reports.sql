-- School years per academy and the report (calculation.md §3.6, issue 10).

-- The academic calendar, reference data loaded from a file (`aplypro-pfmp load-school-years`): first and
-- last day of each school year of each academy. No row: the fallbacks of domain.school_years apply.
CREATE TABLE school_years (
    academy_code text NOT NULL,
    school_year  int NOT NULL,
    first_day    date NOT NULL,
    last_day     date NOT NULL CHECK (last_day > first_day),
    PRIMARY KEY (academy_code, school_year)
);

-- The establishment's academy, from SchoolingOpened (null for schoolings projected before it, or an
-- establishment without one: the national fallback applies).
ALTER TABLE schoolings ADD COLUMN academy_code text;

-- The report (extended_end_date) staff set on a closed schooling with the director's confirmation; pfmp owns
-- it and publishes each change as SchoolingExtended (version: one sequence per schooling; null date: removed).
CREATE TABLE schooling_reports (
    schooling_id      uuid PRIMARY KEY,
    student_id        uuid NOT NULL,
    extended_end_date date,
    version           int NOT NULL
);

-- The audit trail also records report actions: the schooling and the date set (null: removed).
ALTER TABLE pfmp_actions ADD COLUMN schooling_id uuid, ADD COLUMN report_date date;
