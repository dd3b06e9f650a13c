-- An import writes a file's new PFMPs in one INSERT (issue 12), so the overlap trigger runs once per row in
-- one session. PL/pgSQL keeps the generic plan it chose on its first calls, while pfmps was small: a
-- sequential scan of pfmps for every row, quadratic in the file (40,000 rows into an empty table: minutes
-- in this one statement). Planned at each call, the trigger's query finds the student's rows through
-- pfmps_student whatever the table held when the session started.
ALTER FUNCTION pfmps_one_period() SET plan_cache_mode = force_custom_plan;
