-- Issue 10: a student's address change retries a request rejected for a recognised reason (lifecycles.md §2).
-- Only a salted fingerprint of the address parts the ASP checks is kept (domain/addresses.py), never the
-- address. `as_of` is the StudentRegistered's occurred_at: an older event never replaces a newer one.
CREATE TABLE student_addresses (
    student_id     uuid PRIMARY KEY,
    address_sha256 text NOT NULL,
    as_of          timestamptz NOT NULL
);
