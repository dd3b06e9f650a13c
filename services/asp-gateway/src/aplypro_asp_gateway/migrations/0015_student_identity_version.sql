-- StudentRegistered v2, StudentIdentityChanged and StudentAddressChanged carry the version of the student's
-- identity: an older one read late is dropped by version (a request is never built from older names or an older
-- address). 0: an unversioned StudentRegistered v1 (and every row before this migration): between two of those
-- the newer occurred_at (`as_of`) wins, as before.
ALTER TABLE students ADD COLUMN identity_version int NOT NULL DEFAULT 0 CHECK (identity_version >= 0);
