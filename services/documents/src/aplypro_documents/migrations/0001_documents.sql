-- What documents knows of students, schoolings and the barème applied: projections of others' events.
CREATE TABLE students (
    student_id uuid PRIMARY KEY,
    identity   jsonb NOT NULL
);

CREATE TABLE schoolings (
    schooling_id          uuid PRIMARY KEY,
    student_id            uuid NOT NULL,
    school_year           int NOT NULL,
    establishment         jsonb NOT NULL,
    mef                   jsonb NOT NULL,
    -- created with the schooling, unique: the random part of every DA number (documents.md §4)
    administrative_number text NOT NULL UNIQUE
);
CREATE INDEX schoolings_student ON schoolings (student_id);

-- The barème of each schooling, as the calculator published it (may arrive before the schooling).
CREATE TABLE pricing (
    schooling_id     uuid PRIMARY KEY,
    priced           boolean NOT NULL,
    daily_rate_cents int,
    yearly_cap_cents int
);

-- Documents issued; the PDF itself is in storage, referenced here.
CREATE TABLE documents (
    document_id  uuid PRIMARY KEY,
    kind         text NOT NULL,
    schooling_id uuid NOT NULL,
    number       text NOT NULL UNIQUE,
    version      int NOT NULL,
    storage_ref  text NOT NULL,
    sha256       text NOT NULL,
    size_bytes   int NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (schooling_id, kind, version)
);

-- Documents to render once their inputs are all known; the renderer drains it in batches.
CREATE TABLE render_queue (
    schooling_id uuid NOT NULL,
    kind         text NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    last_error   text,
    PRIMARY KEY (schooling_id, kind)
);
