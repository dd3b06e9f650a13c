-- Issue 11, the DA number and the relaunch after unpaid. The DA number: the décision d'attribution each schooling holds, from the documents service's
-- DocumentReady of kind `attribution` (documents.md §4, §8). DOSSIER/NUMADM is that number, never recomputed
-- here; a request whose schooling has none yet waits (missing_attributive_decision). The highest version is
-- kept (a reissue replaces it; an older or replayed event changes nothing). An abrogation or a retrait issues
-- no new DA: the number stays the latest DA's (a retrait holds the requests back: withdrawn_schoolings).
CREATE TABLE attributive_decisions (
    schooling_id uuid PRIMARY KEY,
    student_id   uuid NOT NULL,
    number       text NOT NULL,
    version      int NOT NULL CHECK (version >= 1),
    issued_at    timestamptz NOT NULL
);

-- The PFMP number (PRESTADOSS/NUMADM) is the DA number current when the PFMP is first sent + its rank, then
-- never changes (asp-exchange.md §4.3): a later request of the PFMP reads it back from its first record.
CREATE INDEX file_records_pfmp ON file_records (pfmp_id, record_id);

-- A director's relaunch of a PFMP the ASP integrated and then could not pay (`unpaid`): it modifies the
-- prestation the ASP holds (its ids, the same PFMP number, the whole amount), never a second creation
-- (domain/rectification.py, is_relaunch). Its own variant, so that it is not taken for a rectification.
ALTER TABLE file_records DROP CONSTRAINT file_records_variant_check;
ALTER TABLE file_records ADD CONSTRAINT file_records_variant_check
    CHECK (variant IN ('first_payment', 'rectification_up', 'rectification_down', 'cancellation', 'relaunch'));
