-- Issue 11, SFTP transport: where each payment file was handed over and how, and every return file fetched.

-- Set with written_at: the drop folder ('sftp://user@host:port/depot' or the local outbox) and the outcome:
-- `uploaded` (sent by this handover), `already_there` (found on the server after a crash, with the recorded
-- size and hash: only recorded, never sent again), `unconfirmed` (taken by the pick-up before the mark).
ALTER TABLE asp_files
    ADD COLUMN destination      text,
    ADD COLUMN handover_outcome text CHECK (handover_outcome IN ('uploaded', 'already_there', 'unconfirmed'));

-- Every return file fetched from the read folder, its bytes committed before the remote copy is removed
-- (asp-exchange.md §3.1, G3). A file delivered twice with the same bytes is one row (times_seen counts the
-- deliveries); the same name with other bytes (a truncated file completed later, a corrected file) is a new
-- row. The ingest reads the bytes from here.
CREATE TABLE fetched_returns (
    file_name  text NOT NULL,
    sha256     text NOT NULL,
    size       bigint NOT NULL,
    content    bytea NOT NULL,
    source     text NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    times_seen int NOT NULL DEFAULT 1,
    PRIMARY KEY (file_name, sha256)
);
