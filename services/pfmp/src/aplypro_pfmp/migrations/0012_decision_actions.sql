-- The confirmed director's DA commands (issue missing DAs, reissue, abrogate) for a class or the establishment:
-- their audit rows name the scope and how many schoolings the command covered (never a student's name).
ALTER TABLE pfmp_actions ADD COLUMN uai text, ADD COLUMN school_year int, ADD COLUMN class_label text,
    ADD COLUMN item_count int;
CREATE INDEX pfmp_actions_scope ON pfmp_actions (uai, school_year) WHERE uai IS NOT NULL;
