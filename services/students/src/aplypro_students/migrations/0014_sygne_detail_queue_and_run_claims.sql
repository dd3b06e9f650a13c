-- SYGNE details to fetch (imports.md §5.7: first seen, or moved), queued by import-all in the transaction that
-- imported the student from the list, drained by the service's detail lane (service_layer/sygne_details.py),
-- which deletes a row in the transaction that applies its detail. One row a student: re-queuing updates the
-- list's cells it will be applied with, never adds a row. `cells` is the list row (the students file's columns)
-- the detail completes. A row past its attempts stays, visible to `status` and the gauge, until an operator acts.
CREATE TABLE sygne_detail_queue (
    ine         text PRIMARY KEY,
    uai         text NOT NULL,
    school_year int NOT NULL,
    cells       jsonb NOT NULL,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz NOT NULL DEFAULT now(),
    last_error  text
);
CREATE INDEX sygne_detail_queue_due ON sygne_detail_queue (not_before);

-- import-all's worker processes share a run's establishments (issue 13): each is queued `pending` when the run
-- opens (or is continued), claimed `running` (FOR UPDATE SKIP LOCKED), then done, skipped or failed. A `running`
-- row of a crashed invocation is pending again when the next invocation continues the run.
ALTER TABLE import_run_establishments DROP CONSTRAINT import_run_establishments_outcome_check;
ALTER TABLE import_run_establishments ADD CONSTRAINT import_run_establishments_outcome_check
    CHECK (outcome IN ('pending', 'running', 'done', 'skipped', 'failed'));
