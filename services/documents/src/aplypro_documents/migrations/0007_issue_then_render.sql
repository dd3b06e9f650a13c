-- Issue, then render (issue 12): a document's number, version and content are fixed when it is issued; its PDF
-- is rendered later from the frozen content. Until then storage_ref, sha256 and size_bytes are NULL.
ALTER TABLE documents ALTER COLUMN storage_ref DROP NOT NULL;
ALTER TABLE documents ALTER COLUMN sha256 DROP NOT NULL;
ALTER TABLE documents ALTER COLUMN size_bytes DROP NOT NULL;
-- The student it was issued to, as DocumentIssued said (DocumentReady repeats it, keyed the same). Not named
-- student_id: queries join documents, schoolings and students USING (student_id).
ALTER TABLE documents ADD COLUMN issued_to uuid;
-- The frozen rendering input (rendering/payloads.to_payload): the renderer reads nothing else. NULL for the
-- documents rendered before this migration.
ALTER TABLE documents ADD COLUMN render_payload jsonb;
ALTER TABLE documents ADD COLUMN content_sha256 text;
-- Where its PDF goes (internal ids and numbers only, documents.md §7), fixed at issue too.
ALTER TABLE documents ADD COLUMN object_key text;
ALTER TABLE documents ADD COLUMN pfmp_numbers jsonb;
-- Documents that share a laid-out page (DAs: UAI, year, MEF; états liquidatifs: UAI, year) render together.
ALTER TABLE documents ADD COLUMN layout_key text;
-- Issue order: a schooling's documents are rendered, and their DocumentReady sent, in the order they were issued.
ALTER TABLE documents ADD COLUMN issue_seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE documents ADD COLUMN rendered_at timestamptz;
ALTER TABLE documents ADD COLUMN render_attempts int NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN render_error text;
-- Past its attempts: dead-lettered and left out of the render lanes until `aplypro-documents rerender`.
ALTER TABLE documents ADD COLUMN render_given_up_at timestamptz;
UPDATE documents SET rendered_at = created_at WHERE sha256 IS NOT NULL;
ALTER TABLE documents ADD CONSTRAINT documents_rendered_whole CHECK (
    (sha256 IS NULL) = (storage_ref IS NULL) AND (sha256 IS NULL) = (size_bytes IS NULL));
ALTER TABLE documents ADD CONSTRAINT documents_renderable CHECK (sha256 IS NOT NULL OR render_payload IS NOT NULL);
-- The render lanes' claims walk these: the unrendered of a kind (and layout) in issue order, and a schooling's
-- unrendered ones (the order gate). Both stay small: a rendered document leaves them.
CREATE INDEX documents_unrendered ON documents (kind, issue_seq) WHERE sha256 IS NULL;
CREATE INDEX documents_unrendered_layout ON documents (kind, layout_key, issue_seq) WHERE sha256 IS NULL;
CREATE INDEX documents_unrendered_schooling ON documents (schooling_id, issue_seq) WHERE sha256 IS NULL;
