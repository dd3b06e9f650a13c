-- The student's lock becomes one of 1,024 slots (issue 9's 20,000-student drill): an import locked one
-- advisory lock per student in one transaction, and 20,000 of them overflowed PostgreSQL's shared lock
-- table ("out of shared memory", max_locks_per_transaction). Two students sharing a slot only wait for
-- each other. The two-integer form keeps these locks apart from every single-key advisory lock.
CREATE FUNCTION pfmp_student_slot(student uuid) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtext('pfmp-student:' || student::text) & 1023
$$;

CREATE OR REPLACE FUNCTION pfmps_one_period() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('pfmp-student-slot'), pfmp_student_slot(NEW.student_id));
    IF EXISTS (SELECT 1 FROM pfmps p WHERE p.student_id = NEW.student_id AND NOT p.deleted
               AND p.pfmp_id <> NEW.pfmp_id AND p.start_date <= NEW.end_date AND p.end_date >= NEW.start_date) THEN
        -- no dates, no ids: the message may reach a log
        RAISE exclusion_violation USING MESSAGE = 'pfmp_overlaps: another PFMP of the student overlaps this period';
    END IF;
    RETURN NEW;
END $$;
