-- StudentRegistered v2, StudentIdentityChanged, StudentAddressChanged (imports.md §5.2, §5.10): each carries the
-- version of the student's identity and address, so a consumer drops an older one. 1 at registration, +1 per event
-- of a correction (written in the same transaction as the events). Students registered before: 1 (their
-- StudentRegistered v1 reads as version 0).
ALTER TABLE students ADD COLUMN version int NOT NULL DEFAULT 1 CHECK (version >= 1);
