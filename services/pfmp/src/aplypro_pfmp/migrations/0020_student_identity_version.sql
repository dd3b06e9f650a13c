-- StudentRegistered v2, StudentIdentityChanged and StudentAddressChanged carry the version of the student's
-- identity (the students service's, +1 per correction event): an older identity read late is dropped, never
-- applied over a newer one. 0: an unversioned StudentRegistered v1 (and every row before this migration), which
-- follows another 0 as before (the last one read wins).
ALTER TABLE students ADD COLUMN identity_version int NOT NULL DEFAULT 0 CHECK (identity_version >= 0);
