-- StudentRegistered v2, StudentIdentityChanged and StudentAddressChanged carry the version of the student's
-- identity: an older identity read late is dropped (a DA never prints an older name or address over a newer one).
-- 0: an unversioned StudentRegistered v1 (and every row before this migration), which follows another 0 as before.
ALTER TABLE students ADD COLUMN version int NOT NULL DEFAULT 0 CHECK (version >= 0);
