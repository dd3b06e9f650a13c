-- Academic users invited by e-mail by the national admin (features.md §1: an academic user's academy codes come
-- from AplyproAcademieResp, merged with academic invitations): at every login, an identity whose e-mail has a
-- live invitation reads that academy. Never `*` (the national admin comes from the claims only). A revoked
-- invitation is kept with who revoked it and when: with invited_by, the audit of access management.
CREATE TABLE academic_invitations (
    invitation_id uuid PRIMARY KEY,
    academy_code  text NOT NULL CHECK (academy_code ~ '^[0-9A-Z]{2,3}$'),
    email         text NOT NULL CHECK (email = lower(email)),
    invited_by    text NOT NULL CHECK (invited_by <> ''),
    invited_at    timestamptz NOT NULL DEFAULT now(),
    revoked_by    text,
    revoked_at    timestamptz
);
-- One live invitation per (academy, e-mail); the login reads the live ones of an e-mail.
CREATE UNIQUE INDEX academic_invitations_live ON academic_invitations (academy_code, email) WHERE revoked_at IS NULL;
CREATE INDEX academic_invitations_email ON academic_invitations (email) WHERE revoked_at IS NULL;
