-- Who entered each RIB (issue 14's audit trail): the web user's id (the identity's `sub`, never a name),
-- null for RIBs read from a CSV file. A replaced RIB is archived, not deleted, so the history of who changed
-- a student's bank details is the list of their RIB rows.
ALTER TABLE ribs ADD COLUMN recorded_by text CHECK (recorded_by <> '');
