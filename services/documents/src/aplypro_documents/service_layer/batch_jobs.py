"""Class and establishment downloads built in the background, with progress (documents.md §7: "on request,
with progress"; large zips are written to disk, then streamed).

A job lives in this process's memory (its files on disk under `batch_dir`): one API process serves the
web application; a restart forgets running jobs and the user asks again. Finished jobs' files are removed
after `keep_s`. A batch whose current DAs are issued and not all rendered yet waits for the render lanes (its
state stays `running`, `waiting` counts the DAs not rendered), at most `render_wait_s`, then fails with
`document_not_rendered`: the user asks again later.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import anyio
import asyncpg
import structlog

from aplypro_documents.adapters.storage import MissingObjectError, Storage
from aplypro_documents.domain.file_names import class_file_name, establishment_zip_name
from aplypro_documents.service_layer.batch_metrics import BATCH_ZIP_BYTES, BATCHES_FINISHED, BATCHES_STARTED
from aplypro_documents.service_layer.class_batch import (
    BatchEntry,
    CorruptObjectError,
    DocumentNotRenderedError,
    EmptyBatchError,
    load_entries,
    unrendered,
    write_batch,
)

log = structlog.get_logger(__name__)


class UnknownBatchError(LookupError):
    code = "unknown_batch"


@dataclass
class BatchJob:
    batch_id: uuid.UUID
    uai: str
    school_year: int
    class_label: str | None
    zip_name: str
    merged_name: str
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    pages: int = 0
    waiting: int = 0  # current DAs issued, not rendered yet: the batch waits for them
    error_code: str | None = None
    finished_at: float | None = None
    folder: Path = field(default_factory=Path)

    @property
    def zip_path(self) -> Path:
        return self.folder / "batch.zip"

    @property
    def merged_path(self) -> Path:
        return self.folder / "batch.pdf"


class BatchJobs:
    def __init__(self, pool: asyncpg.Pool, storage: Storage, root: Path, *, keep_s: float = 3600,
                 render_wait_s: float = 600, poll_s: float = 1.0) -> None:
        self.pool, self.storage, self.root, self.keep_s = pool, storage, root, keep_s
        self.render_wait_s, self.poll_s = render_wait_s, poll_s
        self.jobs: dict[uuid.UUID, BatchJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, uai: str, school_year: int, class_label: str | None, today: date) -> BatchJob:
        self._forget_old()
        batch_id = uuid.uuid4()
        if class_label is None:
            zip_name = establishment_zip_name(uai, today)
            merged_name = zip_name.removesuffix(".zip") + ".pdf"
        else:
            zip_name = class_file_name(uai, class_label, today, "zip")
            merged_name = class_file_name(uai, class_label, today, "pdf")
        job = BatchJob(batch_id, uai, school_year, class_label, zip_name, merged_name,
                       folder=self.root / str(batch_id))
        self.jobs[batch_id] = job
        BATCHES_STARTED.inc()
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, batch_id: uuid.UUID) -> BatchJob:
        job = self.jobs.get(batch_id)
        if job is None:
            raise UnknownBatchError(f"no batch {batch_id}")
        return job

    async def _run(self, job: BatchJob) -> None:
        started = time.monotonic()
        try:
            entries = await self._rendered_entries(job)
            job.total = len(entries)

            def written(_: object) -> None:
                job.done += 1

            title = f"Décisions d'attribution {job.uai} {job.school_year}-{job.school_year + 1} {job.class_label or ''}"
            # Fetching and merging block: a thread, so the API keeps answering progress requests.
            result = await anyio.to_thread.run_sync(lambda: write_batch(
                entries, self.storage.get, zip_path=job.zip_path, merged_path=job.merged_path,
                school_year=job.school_year, one_class=job.class_label is not None, title=title.strip(),
                on_written=written))
            job.pages, job.state = result.pages, "done"
            BATCH_ZIP_BYTES.observe(job.zip_path.stat().st_size)
        except (EmptyBatchError, MissingObjectError, CorruptObjectError, DocumentNotRenderedError) as exc:
            job.state, job.error_code = "failed", getattr(exc, "code", "missing_object")
        except Exception:
            job.state, job.error_code = "failed", "batch_error"
            # The job's boundary: the user sees the failure and asks again; the log keeps the trace.
            log.exception("batch_failed", batch_id=str(job.batch_id))
        finally:
            job.finished_at = time.monotonic()
            if job.state != "running":  # not when cancelled at shutdown
                BATCHES_FINISHED.labels(job.state, job.error_code or "none").inc()
            log.info("batch_finished", batch_id=str(job.batch_id), state=job.state, documents=job.done,
                     duration_s=round(job.finished_at - started, 3))

    async def _rendered_entries(self, job: BatchJob) -> list[BatchEntry]:
        """The batch's current DAs once every one is rendered, or as they stand after render_wait_s (write_batch
        then refuses them with document_not_rendered)."""
        deadline = time.monotonic() + self.render_wait_s
        while True:
            entries = await load_entries(self.pool, uai=job.uai, school_year=job.school_year,
                                         class_label=job.class_label)
            job.waiting = unrendered(entries)
            if not job.waiting or time.monotonic() >= deadline:
                return entries
            await asyncio.sleep(self.poll_s)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for batch_id, job in list(self.jobs.items()):
            if job.finished_at is not None and now - job.finished_at > self.keep_s:
                shutil.rmtree(job.folder, ignore_errors=True)
                del self.jobs[batch_id]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
