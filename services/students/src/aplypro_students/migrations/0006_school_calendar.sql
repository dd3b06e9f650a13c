-- The academic calendar (imports.md §6.3), from the open-data `fr-en-calendrier-scolaire` export
-- (`load-calendar`): the summer holidays that close each school year of each academy (La Réunion: the
-- austral winter). A school year runs from the resumption after the previous one to the day before its
-- own resumption; an academy or year without a row uses the fallback (domain/calendar.py).
CREATE TABLE school_calendar (
    academy_code   text NOT NULL CHECK (academy_code ~ '^[0-9]{2}$'),
    school_year    int NOT NULL,   -- the school year the holidays close: 2024 for the summer of 2025
    classes_end    date NOT NULL,  -- the first day of the holidays
    classes_resume date NOT NULL CHECK (classes_resume > classes_end),  -- the first day of the next year
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (academy_code, school_year)
);
