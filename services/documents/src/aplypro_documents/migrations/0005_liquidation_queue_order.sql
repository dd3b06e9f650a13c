-- The oldest queued état liquidatif is found by walking this index in order (claim_liquidations' seed);
-- without it the seed joined and sorted the whole queue: 9 s a claim with 76,000 queued (national run).
CREATE INDEX render_queue_kind_queued ON render_queue (kind, queued_at, schooling_id);
