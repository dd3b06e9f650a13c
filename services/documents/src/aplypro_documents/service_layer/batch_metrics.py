"""The documents API's class and establishment batches, counted for Prometheus (served on the API's ops port):
started, finished by state and error code, and the size of the zips built. Labels are fixed words and error
codes, never an establishment, a class or a batch id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BATCHES_STARTED = Counter("aplypro_documents_batches_started", "Class and establishment batches started.")
BATCHES_FINISHED = Counter(
    "aplypro_documents_batches_finished", "Batches finished, per state (done, failed) and error code (none when "
    "done).", ["state", "error_code"])
BATCH_ZIP_BYTES = Histogram(
    "aplypro_documents_batch_zip_bytes", "Size of each zip a batch built, in bytes.",
    buckets=(1e5, 1e6, 5e6, 2e7, 5e7, 1e8, 2.5e8, 5e8, 1e9, 2e9))
