-- Issue 11, send side (asp-exchange.md §3.4, §9.2 G2/G5/G6; lifecycles.md §2).

-- `ready`: the request is bound to a built payment file (file_records, file_name) whose upload is not recorded
-- yet; it becomes `sent`, with its PaymentRequestSent, in the transaction that records the upload. Requests
-- already `sent` by a build of the older code keep their state and their event (none is sent twice).
ALTER TABLE payment_requests DROP CONSTRAINT payment_requests_state_check;
ALTER TABLE payment_requests
    ADD CONSTRAINT payment_requests_state_check
        CHECK (state IN ('pending', 'ready', 'sent', 'integrated', 'rejected', 'paid', 'unpaid')),
    -- G5: set once when a `sent` request waited `answer_timeout_working_days` without an integration or reject
    -- line, and when an `integrated` one waited `payment_timeout_days` without a payment line (reported).
    ADD COLUMN answer_overdue_at  timestamptz,
    ADD COLUMN payment_overdue_at timestamptz;
CREATE INDEX payment_requests_awaiting_answer ON payment_requests (sent_at) WHERE state = 'sent';
CREATE INDEX payment_requests_awaiting_payment ON payment_requests (answered_at) WHERE state = 'integrated';

-- `answered`: an answer of the ASP named the file before its handover was recorded: that proves receipt (G2).
ALTER TABLE asp_files DROP CONSTRAINT IF EXISTS asp_files_handover_outcome_check;
ALTER TABLE asp_files ADD CONSTRAINT asp_files_handover_outcome_check
    CHECK (handover_outcome IN ('uploaded', 'already_there', 'unconfirmed', 'answered'));
