-- Every PFMP is updated once at least after it is written (validated; then maybe rectified), and the bulk
-- validation updates a whole national list in one statement (issue 12). An import fills its pages full, so
-- each of those updates wrote its new version on another page and a new entry in each of the table's four
-- indexes (12.9 s of 200,000 validations). Pages half empty keep a row's next version on its own page without
-- touching an index (a HOT update): 2.7-11 s → 3-9× faster in bench/pfmp_validate.py's conditions. The table
-- ends the same size once validated (the old versions' space, half of each page either way). New pages only:
-- rows written before this keep their pages.
ALTER TABLE pfmps SET (fillfactor = 50);
