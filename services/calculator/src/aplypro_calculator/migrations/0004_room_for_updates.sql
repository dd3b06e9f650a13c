-- PFMP rows change when their pool is recomputed and request rows change state several times: free room
-- in each page lets PostgreSQL keep the new version in the same page without touching the indexes (HOT
-- update), which is far less write work per event.
ALTER TABLE pfmps SET (fillfactor = 80);
ALTER TABLE payment_requests SET (fillfactor = 80);
