-- The establishments directory as the statistics need it (features.md §4: per budget prefix, and the
-- establishments table's name, ministry, academy and Public / Privé). Fed by the students service's
-- EstablishmentRegistered (published at each load of its directory) and by the establishment copy every
-- SchoolingOpened carries; the newest event (occurred_at) wins, so a replay never brings back older data.
CREATE TABLE establishments (
    uai                text PRIMARY KEY,
    name               text NOT NULL,
    ministry           text NOT NULL,
    academy_code       text,
    contract_type_code text NOT NULL,
    as_of              timestamptz NOT NULL
);

-- The MEF's ministry (SchoolingOpened's BCN attributes): with the establishment's contract type it picks the
-- schooling's budget prefix (documents.md §4). Null on schoolings projected before this migration until their
-- next SchoolingOpened (a replay of the students topic fills it); the prefix then reads the establishment's.
ALTER TABLE schoolings ADD COLUMN mef_ministry text;

-- The weekly snapshot's fourth table: scope 'budget' (key ENPU, ENPR, MASA, MER, or AUTRE).
ALTER TABLE indicator_snapshots DROP CONSTRAINT indicator_snapshots_scope_check;
ALTER TABLE indicator_snapshots ADD CONSTRAINT indicator_snapshots_scope_check
    CHECK (scope IN ('national', 'budget', 'academy', 'uai'));
