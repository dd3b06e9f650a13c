-- Aggregate version of a PFMP (issue 9): 1 at creation, +1 at each change written with its event, so that
-- consumers drop an older PfmpRecorded arriving after a PfmpValidated.
ALTER TABLE pfmps ADD COLUMN version int NOT NULL DEFAULT 1 CHECK (version >= 1);

-- The schoolings projection keeps the version of the SchoolingOpened it holds; an older one is dropped
-- and counted here (0: a v1 event, unversioned).
ALTER TABLE schoolings ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
CREATE TABLE stale_events (
    event_type text PRIMARY KEY,
    dropped    bigint NOT NULL DEFAULT 0
);
