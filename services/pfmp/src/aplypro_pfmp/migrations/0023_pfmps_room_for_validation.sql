-- Every PFMP is updated once at least after it is written (validated; then maybe rectified), and the bulk
-- validation updates a whole national list in one statement (issue 12). An import fills its pages full, so
-- each of those updates wrote its new version on another page and a new entry in each of the table's four
-- indexes. Pages half empty keep a row's next version on its own page without touching an index (a HOT
-- update): the UPDATE of 199,647 validated PFMPs took 15.8 s, 1.05 s now (bench/pfmp_validate.py, loaded
-- machine). The table ends the same size once validated (a non-HOT update doubles it too: the old versions'
-- space). New pages only: rows written before this keep their pages.
ALTER TABLE pfmps SET (fillfactor = 50);
