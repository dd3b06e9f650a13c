-- Issue 10, payment gate ine_not_found (lifecycles.md §4 #2): `ine_status` (0001) becomes a fact other
-- services follow. Each change of it is the next version, carried by StudentIneStatusChanged, so a consumer
-- drops a replayed or older one; who recorded the last change and when, for the audit trail.
ALTER TABLE students
    ADD COLUMN ine_status_version int NOT NULL DEFAULT 0 CHECK (ine_status_version >= 0),
    ADD COLUMN ine_status_by text,
    ADD COLUMN ine_status_at timestamptz;
