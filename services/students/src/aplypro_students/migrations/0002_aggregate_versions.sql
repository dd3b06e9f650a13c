-- Aggregate versions (issue 9): every SchoolingOpened and RibRecorded carries the version of what it
-- describes, so that consumers drop an older event that arrives late.
-- A schooling's version: 1 at creation, +1 at each change written with its event (write_schoolings).
ALTER TABLE schoolings ADD COLUMN version int NOT NULL DEFAULT 1 CHECK (version >= 1);
-- A student's bank details for one establishment: each new RIB there is the next version (the one
-- before is archived in the same transaction).
ALTER TABLE ribs ADD COLUMN version int NOT NULL DEFAULT 1 CHECK (version >= 1);
