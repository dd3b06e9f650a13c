-- The RIB frozen on each payment request the asp-gateway handed to the ASP, and whether the request is still in
-- progress (sent or integrated: not yet paid, rejected or unpaid), from the gateway's public events only
-- (PaymentRequestSent carries the RIB, PaymentRequestStateChanged the state). A RIB frozen on a request in
-- progress cannot be archived (imports.md §8, `unarchivable_rib`). `version` is the gateway's own sequence for the
-- request: an older event never moves the state back.
CREATE TABLE rib_payment_requests (
    payment_request_id uuid PRIMARY KEY,
    student_id         uuid NOT NULL,
    rib_id             uuid,
    in_progress        boolean NOT NULL,
    version            int NOT NULL
);
CREATE INDEX rib_payment_requests_in_progress ON rib_payment_requests (rib_id) WHERE in_progress;
