"""Handing a built payment file over to the drop folder exactly once, whatever crash happens in between.

The file row (name, bytes, hash, its requests) is committed before anything touches the disk. Then:
write the hidden part file and sync it, mark the file `staged`, rename it to its final name (the handover:
an uploader may take it at once), mark it `written`. A restart finds each file not yet written and
resumes from what the database and the folder show:

* not staged: nothing was handed over (the rename comes after the stage mark): the part file, whole or
  not, is written again from the stored bytes, then the steps go on;
* staged, final name with the recorded hash: renamed but not marked: only the mark is missing;
* staged, part file with the recorded hash: the rename did not happen: redo it;
* staged, neither name: the part file was durable before the mark, so only the rename removed it, and
  the uploader took the file: it is never written again (that would be a second upload); the mark records
  the handover as unconfirmed for an operator;
* a final name holding other bytes: never overwritten (FileOnDiskConflict).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import file_drop
from aplypro_asp_gateway.adapters import requests_repo as repo
from aplypro_asp_gateway.adapters.requests_repo import FileToWrite
from aplypro_asp_gateway.domain.errors import FileOnDiskConflict

log = structlog.get_logger(__name__)


async def write_pending_files(conn: Connection, outbox_dir: Path) -> list[str]:
    """Put on disk every built file not yet written (this run's, or one a crash left behind).

    One instance at a time per schema (a session lock, released if the process dies): two replicas
    resuming the same file could each rename it, a second handover. A busy lock means another instance
    is at it: nothing to do here.
    """
    if not await repo.try_lock_handover(conn):
        return []
    try:
        written = []
        for file in await repo.files_to_write(conn):
            await _hand_over(conn, outbox_dir, file)
            written.append(file.name)
        return written
    finally:
        await repo.unlock_handover(conn)


async def _hand_over(conn: Connection, folder: Path, file: FileToWrite) -> None:
    final_hash = await asyncio.to_thread(file_drop.sha256_of, folder / file.name)
    if final_hash is not None:
        if final_hash != file.sha256:
            raise FileOnDiskConflict("the drop folder holds other bytes under this file's name")
        await repo.mark_written(conn, file.name)  # renamed before a crash: only the mark was missing
        log.info("payment_file_written", file_name=file.name, resumed="mark")
        return
    if file.staged:
        partial_hash = await asyncio.to_thread(file_drop.sha256_of, file_drop.partial_path(folder, file.name))
        if partial_hash != file.sha256:
            # Durable before the stage mark, gone now: renamed, then taken. Never a second handover.
            await repo.mark_written(conn, file.name, unconfirmed=True)
            log.warning("payment_file_handover_unconfirmed", file_name=file.name)
            return
    else:
        await asyncio.to_thread(file_drop.write_partial, folder, file.name, file.content)
        await repo.mark_staged(conn, file.name)
    await asyncio.to_thread(file_drop.publish, folder, file.name)
    await repo.mark_written(conn, file.name)
    log.info("payment_file_written", file_name=file.name)
