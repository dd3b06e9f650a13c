-- Reference data: establishments from the national directory, MEFs from the BCN list of each school year.
CREATE TABLE establishments (
    uai                text PRIMARY KEY CHECK (uai ~ '^[0-9]{7}[A-Z]$'),
    name               text NOT NULL,
    ministry           text NOT NULL DEFAULT 'MENJ',
    academy_code       text,
    contract_type_code text NOT NULL DEFAULT '99',
    address_lines      text[] NOT NULL DEFAULT '{}',
    postal_code        text,
    city               text,
    email              text,
    phone              text,
    head_name          text,
    students_provider  text NOT NULL DEFAULT 'csv',
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The eligible list of a year is the import filter: a MEF absent for that year cannot be imported.
CREATE TABLE mefs (
    school_year int NOT NULL,
    code        text NOT NULL CHECK (code ~ '^[0-9]{10}$'),
    dispositif  text NOT NULL,
    diploma     text NOT NULL,
    duration    int,
    year        int,
    label       text NOT NULL,
    ministry    text NOT NULL,
    PRIMARY KEY (school_year, code)
);

CREATE TABLE students (
    student_id          uuid PRIMARY KEY,
    ine                 text NOT NULL UNIQUE,  -- natural key; never a Kafka key nor a log field
    last_name           text NOT NULL,
    first_names         text[] NOT NULL CHECK (cardinality(first_names) BETWEEN 1 AND 3),
    birth_date          date NOT NULL,
    sex                 text NOT NULL CHECK (sex IN ('female', 'male', 'unknown')),
    birth_city_insee    text,
    birth_country_insee text,
    address             jsonb NOT NULL DEFAULT '{}',
    ine_status          text NOT NULL DEFAULT 'ok' CHECK (ine_status IN ('ok', 'not_found')),
    identity_source     text NOT NULL,
    identity_seen_at    timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- Classes are never deleted: a new label is a new class, the old one keeps its former schoolings.
CREATE TABLE classes (
    class_id    uuid PRIMARY KEY,
    uai         text NOT NULL REFERENCES establishments,
    school_year int NOT NULL,
    label       text NOT NULL,
    mef_code    text NOT NULL,
    UNIQUE (uai, school_year, label, mef_code)
);

CREATE TABLE schoolings (
    schooling_id      uuid PRIMARY KEY,
    student_id        uuid NOT NULL REFERENCES students,
    class_id          uuid NOT NULL REFERENCES classes,
    status            text NOT NULL CHECK (status IN ('student', 'apprentice', 'other')),
    start_date        date NOT NULL,
    end_date          date CHECK (end_date >= start_date),
    end_date_inferred boolean NOT NULL DEFAULT false,
    extended_end_date date CHECK (extended_end_date > end_date),  -- set by staff only
    hidden_at         timestamptz,                                  -- set by staff only
    source            text NOT NULL,
    source_record_id  text,
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (student_id, class_id)
);
-- One open, non-hidden schooling per student: reconciliation closes the previous one first.
CREATE UNIQUE INDEX schoolings_one_open ON schoolings (student_id) WHERE end_date IS NULL AND hidden_at IS NULL;
CREATE INDEX schoolings_class ON schoolings (class_id);

-- A RIB belongs to a student for one establishment; saving a new one archives the active one.
CREATE TABLE ribs (
    rib_id      uuid PRIMARY KEY,
    student_id  uuid NOT NULL REFERENCES students,
    uai         text NOT NULL REFERENCES establishments,
    owner_type  text NOT NULL CHECK (owner_type IN ('personal', 'other_person', 'moral_person', 'mandate')),
    holder_name text NOT NULL,
    iban        text NOT NULL,
    bic         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz
);
CREATE UNIQUE INDEX ribs_one_active ON ribs (student_id, uai) WHERE archived_at IS NULL;

-- One row per import run: what it counted and which (line, column, reason) it rejected; never values.
CREATE TABLE imports (
    import_id   uuid PRIMARY KEY,
    kind        text NOT NULL,
    uai         text,
    school_year int,
    mode        text,
    counts      jsonb NOT NULL,
    rejected    jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);
