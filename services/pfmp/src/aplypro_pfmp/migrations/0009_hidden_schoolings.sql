-- Schoolings staff hid (*Masqué(e) manuellement de la classe*, imports.md §5.9), from the students service's
-- SchoolingHiddenChanged, or from its API's answer at once (the web's read-your-writes): the same fact with the
-- same version, so whichever comes second is a no-op. Its own table: the fact may come before the schooling.
CREATE TABLE hidden_schoolings (
    schooling_id uuid PRIMARY KEY,
    hidden       boolean NOT NULL,
    version      int NOT NULL CHECK (version >= 1)
);
