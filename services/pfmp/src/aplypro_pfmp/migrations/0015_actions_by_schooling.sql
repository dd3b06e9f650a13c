-- The dossier and student pages read the latest command naming a schooling (an ASP agent's état liquidatif, the
-- director's DA commands) on every view: an index, so it stays one lookup however long the audit trail grows.
CREATE INDEX pfmp_actions_schooling ON pfmp_actions (schooling_id, action) WHERE schooling_id IS NOT NULL;
