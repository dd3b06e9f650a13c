-- One period, one payment (issue 9): two live PFMPs of one student never share a day (both ends included).
-- The service checks it first and reports the row; this trigger is the guarantee for any other writer.
-- An exclusion constraint would need btree_gist (uuid equality in a gist index), which the embedded
-- PostgreSQL lacks: instead the trigger takes the student's advisory lock, the one record_pfmp takes, so
-- that two transactions cannot both pass the check, and reads committed rows once it holds it (each
-- statement of a plpgsql function has a fresh snapshot under READ COMMITTED).
CREATE INDEX pfmps_student ON pfmps (student_id);

CREATE FUNCTION pfmps_one_period() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('pfmp-student:' || NEW.student_id::text));
    IF EXISTS (SELECT 1 FROM pfmps p WHERE p.student_id = NEW.student_id AND NOT p.deleted
               AND p.pfmp_id <> NEW.pfmp_id AND p.start_date <= NEW.end_date AND p.end_date >= NEW.start_date) THEN
        -- no dates, no ids: the message may reach a log
        RAISE exclusion_violation USING MESSAGE = 'pfmp_overlaps: another PFMP of the student overlaps this period';
    END IF;
    RETURN NEW;
END $$;

-- Only writes that move a period fire it (validation does not: it never waits on the student's lock).
CREATE TRIGGER pfmps_one_period BEFORE INSERT OR UPDATE OF student_id, start_date, end_date, deleted ON pfmps
    FOR EACH ROW WHEN (NOT NEW.deleted) EXECUTE FUNCTION pfmps_one_period();
