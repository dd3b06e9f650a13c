-- A directory load that changes what a schooling event carries of an establishment (name, address, director,
-- city code...) re-publishes the establishment's schoolings (issue 13), in chunks of their own transactions.
-- A row here is an establishment whose schoolings still carry the old snapshot: queued in the load's
-- transaction, `after` the last schooling re-published (the chunks go in schooling_id order), deleted by the
-- chunk that re-publishes its last one. A crash between chunks loses nothing: the next load goes on from `after`.
CREATE TABLE establishment_republish (
    uai       text PRIMARY KEY REFERENCES establishments,
    after     uuid,
    queued_at timestamptz NOT NULL DEFAULT now()
);
