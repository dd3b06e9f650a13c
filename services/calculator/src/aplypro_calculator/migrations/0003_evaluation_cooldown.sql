-- Evaluation cool-down (lifecycles.md §5): the request of a validated PFMP is created `pending` and is
-- evaluated only once it is due, at the next 00:00 Europe/Paris after the validation. Until then it is
-- not committed: the PFMP stays in the free class and the request's amount follows the pool, so the
-- amounts of one day's validations do not depend on the order in which they arrived.

-- When the PFMP was first validated (occurred_at of its PfmpValidated); NULL: not validated, or validated
-- before this migration (its cool-down has long passed: a request created now is due at once).
ALTER TABLE pfmps ADD COLUMN validated_at timestamptz;

ALTER TABLE payment_requests
    -- When the request becomes due for its first evaluation; NULL: at once (rectifications, cool-down
    -- off, rows created before this migration). A `pending` request without reasons has not been
    -- evaluated yet: an evaluation always leaves it ready, incomplete, or pending with a parking reason.
    ADD COLUMN due_at timestamptz,
    -- The event that created the request and its flow: the delayed evaluation continues that flow.
    ADD COLUMN cause_event_id uuid,
    ADD COLUMN correlation_id uuid;

-- The evaluator's work list: requests created and not evaluated yet (few at any time).
CREATE INDEX payment_requests_awaiting ON payment_requests (due_at, seq) WHERE state = 'pending' AND reasons = '{}';
