-- The class of each schooling (SchoolingOpened.class_label), for per-class downloads (documents.md §7).
-- Nullable: schoolings projected before this migration get it at their next SchoolingOpened.
ALTER TABLE schoolings ADD COLUMN class_label text;

-- Per-establishment and per-class downloads select on it.
CREATE INDEX schoolings_uai_year_class ON schoolings ((establishment->>'uai'), school_year, class_label);
