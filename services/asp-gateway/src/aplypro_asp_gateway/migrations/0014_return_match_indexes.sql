-- The return ingest looks up the requests a file's lines could clash with, by each of these ids
-- (returns_repo.held_ids, one indexed lookup per id kind). Without them, one OR over six columns scanned
-- every request and tested each against every id of the file: 15 s and more a file at 200,000 requests.
CREATE INDEX payment_requests_individual ON payment_requests (asp_individual_id) WHERE asp_individual_id IS NOT NULL;
CREATE INDEX payment_requests_dossier ON payment_requests (asp_dossier_id) WHERE asp_dossier_id IS NOT NULL;
CREATE INDEX payment_requests_student ON payment_requests (student_id);
CREATE INDEX payment_requests_schooling ON payment_requests (schooling_id);
