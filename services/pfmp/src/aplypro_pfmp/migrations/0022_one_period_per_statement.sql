-- An import inserts a file's new PFMPs in one statement (issue 12): the row trigger of 0003/0011 planned and
-- ran its overlap query once per row (≈ 150 µs a row: 6 s of a 40,000-row import, 3 minutes of a national
-- file). A new PFMP is now checked once per INSERT statement, over the statement's rows as a set: the same
-- slot locks (taken in slot order, as postgres.lock_students takes them, so no deadlock with it), then one
-- query for any live PFMP of the same student sharing a day with an inserted one (the inserted rows among
-- them: two rows of one statement overlapping each other are refused too). An AFTER trigger sees the
-- statement's rows; taking the locks after writing them is safe: another writer cannot see them before this
-- transaction commits, and a writer that waits on the same slot reads them, committed, once it holds it.
-- Updates that move a period (one PFMP at a time) keep the row trigger.
CREATE FUNCTION pfmps_one_period_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT
    SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('pfmp-student-slot'), slot)
        FROM (SELECT DISTINCT pfmp_student_slot(student_id) AS slot FROM inserted WHERE NOT deleted
              ORDER BY slot) AS slots;
    IF EXISTS (SELECT 1 FROM inserted n JOIN pfmps p ON p.student_id = n.student_id
               WHERE NOT n.deleted AND NOT p.deleted AND p.pfmp_id <> n.pfmp_id
               AND p.start_date <= n.end_date AND p.end_date >= n.start_date) THEN
        -- no dates, no ids: the message may reach a log
        RAISE exclusion_violation USING MESSAGE = 'pfmp_overlaps: another PFMP of the student overlaps this period';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER pfmps_one_period ON pfmps;
CREATE TRIGGER pfmps_one_period BEFORE UPDATE OF student_id, start_date, end_date, deleted ON pfmps
    FOR EACH ROW WHEN (NOT NEW.deleted) EXECUTE FUNCTION pfmps_one_period();
CREATE TRIGGER pfmps_one_period_inserted AFTER INSERT ON pfmps REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION pfmps_one_period_inserted();
