-- Issue 13, imports.md §5.2: an unknown INE is matched on the student's normalised identity (last name and
-- first first name upper-cased without accents or punctuation, birth date, birth city). The key is computed by
-- the database, from one function, for the stored students (a generated column, indexed) and for the records
-- of an import (the same function in the query), so the two can never normalise differently.
-- translate() maps both cases: upper() leaves accented letters alone under the C collation.
CREATE FUNCTION students_identity_key(last_name text, first_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
    SELECT regexp_replace(upper(replace(replace(translate(last_name || '|' || first_name,
        'àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ',
        'aaaaaaceeeeiiiinooooouuuuyyAAAAAACEEEEIIIINOOOOOUUUUYY'), 'œ', 'oe'), 'æ', 'ae')), '[^A-Z0-9|]', '', 'g')
$$;

ALTER TABLE students ADD COLUMN identity_key text
    GENERATED ALWAYS AS (students_identity_key(last_name, first_names[1])) STORED;
CREATE INDEX students_identity ON students (identity_key, birth_date);

-- What an import could not decide alone: two students with different national INEs but the same normalised
-- identity are never merged automatically (§5.2), they wait here for a person. Ids only: no personal data.
CREATE TABLE review_items (
    item_id          uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('possible_duplicate')),
    student_id       uuid NOT NULL REFERENCES students,  -- the student this import created
    other_student_id uuid NOT NULL REFERENCES students,  -- the one it looks like
    import_id        uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    UNIQUE (kind, student_id, other_student_id)
);
