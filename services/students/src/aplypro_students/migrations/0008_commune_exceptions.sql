-- imports.md §4: obsolete INSEE commune codes (merged or renamed communes) are remapped at import through an
-- exception table (type, old → new), loaded from a CSV by `load-commune-exceptions`: each load replaces the
-- whole table. Applied in one place, import_students (step 1, after each source's normaliser), so every source
-- (CSV, SYGNE, FREGATA, events) stores the current code. Reference data, no personal data.
CREATE TABLE commune_exceptions (
    kind      text NOT NULL CHECK (kind IN ('birth', 'residence')),
    old_code  text NOT NULL CHECK (old_code ~ '^([0-9]{2}|2[AB])[0-9]{3}$'),
    new_code  text NOT NULL CHECK (new_code ~ '^([0-9]{2}|2[AB])[0-9]{3}$' AND new_code <> old_code),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, old_code)
);
