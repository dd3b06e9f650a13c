-- Each added or lifted exclusion is published as ExclusionChanged (keyed by UAI) so the calculator keeps the same
-- list; this sequence is its version: of two changes of one row, the later one has the higher number.
CREATE SEQUENCE exclusion_change_seq;
