-- Issue 10, payment gates owned by the gateway.

-- adult_wrong_owner_type (lifecycles.md §4 #18) checks adulthood on the PFMP's first day, carried by
-- PaymentRequested.pfmp_start_date. NULL: a request from a message older than the field; the check then
-- uses the day the request was made (requested_at), never earlier than the start, so never more lenient.
ALTER TABLE payment_requests ADD COLUMN pfmp_start_date date;

-- funding_unavailable (parking): the budget programmes switched off (APLYPRO_ASP_FUNDING_OFF) at the last
-- build. When the setting differs from this row, every pending request is checked again, so the parked
-- ones are released (and newly switched-off ones parked) without waiting for a data change. One row.
CREATE TABLE funding_switch (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    off_bops  text[] NOT NULL
);
