-- Who entered each RIB (issue 14's audit trail): the web user's id (the identity's `sub`, never a name),
-- null for RIBs read from a CSV file. A replaced RIB is archived, not deleted, so the history of who changed
-- a student's bank details is the list of their RIB rows.
ALTER TABLE ribs ADD COLUMN recorded_by text CHECK (recorded_by <> '');

-- Hide / reintegrate a schooling (imports.md §5.9) from the web application: who did it last, and the version
-- of the hidden flag that SchoolingHiddenChanged carries (each change +1), so that consumers drop a late one.
ALTER TABLE schoolings ADD COLUMN hidden_by text CHECK (hidden_by <> ''),
                       ADD COLUMN hidden_version int NOT NULL DEFAULT 0 CHECK (hidden_version >= 0);
