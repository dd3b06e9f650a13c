-- Issue 10: why the asp-gateway holds back a request handed over as ready (its PaymentRequestHeld), so that
-- `explain` and `status` show every reason, the gateway's too. Shown only: the request's state and amount
-- stay the calculator's. Versioned by the gateway's own sequence for the request (an older event is dropped).
ALTER TABLE payment_requests
    ADD COLUMN gateway_reasons text[] NOT NULL DEFAULT '{}',
    ADD COLUMN gateway_reasons_version int NOT NULL DEFAULT 0 CHECK (gateway_reasons_version >= 0);
