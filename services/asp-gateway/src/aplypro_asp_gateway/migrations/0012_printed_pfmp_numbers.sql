-- Issue 11, the PFMP number. The number each PFMP's état liquidatif printed, announced by the documents
-- service (DocumentReady `liquidation`, its optional `pfmp_numbers`): PRESTADOSS/NUMADM is exactly that number,
-- never one computed here (asp-exchange.md §4.3, documents.md §4). The documents service stores each PFMP's
-- number once and never changes it: the first announcement is kept, a differing later one is logged.
CREATE TABLE printed_pfmp_numbers (
    pfmp_id          uuid PRIMARY KEY,
    schooling_id     uuid NOT NULL,
    number           text NOT NULL,
    document_version int NOT NULL CHECK (document_version >= 1),
    received_at      timestamptz NOT NULL
);
