-- Weekly snapshots of the statistics indicators (features.md §4): what academic reports, their history and the
-- national evolution read. One row per (day taken, school year, scope, key): scope 'national' (key ''),
-- 'academy' (key: the code, '' when not given) or 'uai' (key: the UAI, academy_code: its academy). `counts`
-- holds domain.indicators.Counts by field name (integer counts and cents); a field added later reads as 0.
CREATE TABLE indicator_snapshots (
    taken_on     date NOT NULL,
    school_year  int NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('national', 'academy', 'uai')),
    key          text NOT NULL,
    academy_code text,
    counts       jsonb NOT NULL,
    PRIMARY KEY (taken_on, school_year, scope, key)
);
CREATE INDEX indicator_snapshots_academy ON indicator_snapshots (academy_code, school_year, taken_on)
    WHERE scope = 'uai';
