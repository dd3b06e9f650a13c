-- Issue 11, the automatic retry after a rejection (lifecycles.md §2, Retries; asp-exchange.md §6.1): a record the
-- ASP rejected at integration created nothing there (no integration line, no ids to modify), so the PFMP's
-- retry, a new request, leaves as a first payment again under the same PFMP number (§4.3: it never changes).
-- The one-first-payment guards of 0003 counted the rejected record and refused every retry
-- (`already_paid_first`): they now count the first-payment records not rejected. Set with the rejection, in the
-- ingest's transaction (returns_repo.move).
ALTER TABLE file_records ADD COLUMN rejected boolean NOT NULL DEFAULT false;
UPDATE file_records f SET rejected = true
FROM payment_requests p WHERE p.payment_request_id = f.payment_request_id AND p.state = 'rejected';

-- A PFMP has one first-payment record the ASP did not reject, across all files ever built, and a PFMP number
-- is sent once as such: a second one would create the prestation, and pay the PFMP, twice.
DROP INDEX file_records_one_first_payment_per_pfmp;
DROP INDEX file_records_one_first_payment_per_numadm;
CREATE UNIQUE INDEX file_records_one_first_payment_per_pfmp ON file_records (pfmp_id)
    WHERE first_payment AND NOT rejected;
CREATE UNIQUE INDEX file_records_one_first_payment_per_numadm ON file_records (pfmp_number)
    WHERE first_payment AND NOT rejected;
