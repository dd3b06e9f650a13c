-- What pfmp knows of students and schoolings: a projection of the students service's events.
CREATE TABLE students (
    student_id  uuid PRIMARY KEY,
    ine         text NOT NULL,
    last_name   text NOT NULL,
    first_names text[] NOT NULL
);
CREATE INDEX students_ine ON students (ine);

CREATE TABLE schoolings (
    schooling_id uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    uai          text NOT NULL,
    school_year  int NOT NULL,
    status       text NOT NULL,
    start_date   date NOT NULL,
    end_date     date
);
CREATE INDEX schoolings_student ON schoolings (student_id);

-- PFMPs are owned here.
CREATE TABLE pfmps (
    pfmp_id      uuid PRIMARY KEY,
    schooling_id uuid NOT NULL REFERENCES schoolings,
    student_id   uuid NOT NULL,
    start_date   date NOT NULL,
    end_date     date NOT NULL CHECK (end_date >= start_date),
    day_count    int CHECK (day_count >= 0),
    status       text NOT NULL,
    created_seq  bigserial,
    rank         int NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    validated_at timestamptz,
    -- one rank per schooling: PFMP numbers are built from it and never change
    UNIQUE (schooling_id, rank)
);
CREATE INDEX pfmps_schooling ON pfmps (schooling_id);
