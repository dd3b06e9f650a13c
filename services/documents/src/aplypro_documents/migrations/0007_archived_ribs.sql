-- RibArchived (issue 13): the students service archived this RIB (replaced, or kept archived by a merge). The row
-- stays, marked, with its version (a late copy of its RibRecorded is stale); an état liquidatif never prints it.
-- A newer RibRecorded of the pair replaces it, current again.
ALTER TABLE ribs ADD COLUMN archived boolean NOT NULL DEFAULT false;
CREATE INDEX ribs_rib_id ON ribs (rib_id);
