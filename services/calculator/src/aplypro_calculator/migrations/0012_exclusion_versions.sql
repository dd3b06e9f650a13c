-- The students service publishes each added or lifted exclusion as ExclusionChanged with a version; the newest
-- applied version of each row is kept here so that an older change arriving late is dropped, not applied.
CREATE TABLE exclusion_versions (
    uai         text NOT NULL,
    mef_key     text NOT NULL,  -- '' = the whole establishment
    year_key    int NOT NULL,   -- 0 = every year
    version     bigint NOT NULL,
    PRIMARY KEY (uai, mef_key, year_key)
);
