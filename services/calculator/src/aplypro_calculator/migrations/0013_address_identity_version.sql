-- The address fingerprint follows the students service's identity version, not the clock: two students
-- replicas may stamp occurred_at out of order, while the version is one sequence per student. Rows kept
-- before have version 0, so the next versioned identity replaces them.
ALTER TABLE student_addresses ADD COLUMN identity_version integer NOT NULL DEFAULT 0;
