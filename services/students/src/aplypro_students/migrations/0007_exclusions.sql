-- Exclusions (imports.md §5.1 and §6.2, calculation.md §4): national decisions that put an establishment, or
-- one of its MEFs, optionally for one school year only, outside the scheme. An import skips the records they
-- cover as `excluded` (their students never enter); the calculator keeps its own list and re-checks at payment
-- time (`aplypro-calculator exclusions`), since one may be added mid-year. `mef_code` null: the whole
-- establishment; `school_year` null: every year. Who added a row, and when, is kept.
CREATE TABLE exclusions (
    uai         text NOT NULL,
    mef_code    text,
    school_year int,
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exclusions_one_row ON exclusions (uai, coalesce(mef_code, ''), coalesce(school_year, 0));
