-- Stale DAs (documents.md §6): a DA is stale when what it prints changed after it was issued, and a reissue is
-- offered. pfmp learns each input from an event it already consumes, and keeps a fingerprint of it (a sha256,
-- never the data) with the time of the event that last changed it:
-- * the student as a DA prints them (names, birth date, address) from StudentRegistered;
ALTER TABLE students ADD COLUMN da_identity_sha text, ADD COLUMN da_identity_at timestamptz;
-- * the training (MEF code, label, ministry) and the establishment as printed (name, address, e-mail, phone) from
--   SchoolingOpened;
ALTER TABLE schoolings ADD COLUMN da_content_sha text, ADD COLUMN da_content_at timestamptz;
-- * the barème (daily rate, yearly cap) from SchoolingPriced: the values are held already, only when they last
--   changed is new.
ALTER TABLE schooling_prices ADD COLUMN price_changed_at timestamptz;
UPDATE schooling_prices SET price_changed_at = priced_at;

-- The DA in force, as pfmp saw its inputs when documents' DocumentReady arrived: issued_at is the event's time;
-- each fingerprint is the one held then ('' when the input held had changed after the DA was issued: the DA
-- predates it; null when pfmp did not know it: that input is not compared). Null for DAs issued before this
-- migration: they are not marked until reissued (or until a replay of documents' topic).
ALTER TABLE decisions ADD COLUMN issued_at timestamptz, ADD COLUMN identity_sha text, ADD COLUMN content_sha text,
    ADD COLUMN price text;
