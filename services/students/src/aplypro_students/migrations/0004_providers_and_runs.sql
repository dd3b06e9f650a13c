-- Issue 13. Each establishment has a students provider (imports.md §1): `students_provider` (0001, default
-- `csv`: nothing is fetched for an establishment until an operator names its API) now has a checked shape.
ALTER TABLE establishments ADD CONSTRAINT establishments_students_provider
    CHECK (students_provider ~ '^(sygne|fregata|csv|events:[a-z0-9][a-z0-9._-]{0,62})$');

-- Every change of provider, by whom and when (the existing system fixed it silently at the first login).
CREATE TABLE provider_changes (
    change_id    bigserial PRIMARY KEY,
    uai          text NOT NULL REFERENCES establishments,
    old_provider text NOT NULL,
    new_provider text NOT NULL,
    changed_by   text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now()
);

-- `import-all` runs: one row per run of a source and school year, one per establishment it finished, so a
-- run that crashed is continued by the next one instead of starting over (imports.md §7: "import runs are
-- jobs with state, heartbeat and timeout"). `open` until every establishment is done or skipped.
CREATE TABLE import_runs (
    run_id       uuid PRIMARY KEY,
    source       text NOT NULL,
    school_year  int NOT NULL,
    status       text NOT NULL CHECK (status IN ('open', 'finished', 'abandoned')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
-- one open run per source and year: a re-run continues it
CREATE UNIQUE INDEX import_runs_one_open ON import_runs (source, school_year) WHERE status = 'open';

CREATE TABLE import_run_establishments (
    run_id      uuid NOT NULL REFERENCES import_runs,
    uai         text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('done', 'skipped', 'failed')),  -- failed: retried by a re-run
    report      jsonb NOT NULL,  -- counts and reason codes; INEs never stored here
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, uai)
);
