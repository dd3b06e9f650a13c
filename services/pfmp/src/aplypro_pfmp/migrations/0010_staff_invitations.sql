-- Staff invited by e-mail by a director of the establishment (features.md §1, "Personnel autorisé"): at every
-- login, an identity whose e-mail has a live invitation is authorised staff of that establishment. A revoked
-- invitation is kept with who revoked it and when: with invited_by, the audit of access management.
CREATE TABLE staff_invitations (
    invitation_id uuid PRIMARY KEY,
    uai           text NOT NULL,
    email         text NOT NULL CHECK (email = lower(email)),
    invited_by    text NOT NULL,
    invited_at    timestamptz NOT NULL DEFAULT now(),
    revoked_by    text,
    revoked_at    timestamptz
);
-- One live invitation per (establishment, e-mail); the login reads the live ones of an e-mail.
CREATE UNIQUE INDEX staff_invitations_live ON staff_invitations (uai, email) WHERE revoked_at IS NULL;
CREATE INDEX staff_invitations_email ON staff_invitations (email) WHERE revoked_at IS NULL;
