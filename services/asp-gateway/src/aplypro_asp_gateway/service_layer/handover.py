"""Handing a built payment file over to the drop folder exactly once, whatever crash happens in between.

The drop folder is the local outbox or the ASP's SFTP `depot`, through one port (adapters/transport.py);
`transport_for` picks it from the settings. The file row (name, bytes, hash, its requests) is committed
before anything touches the folder. Then: write the temporary `.<name>.part` and check it, mark the file
`staged`, rename it to its final name (the handover: the ASP's pick-up may take it at once), mark it
`written` with its destination and outcome, and in that same transaction move its requests `ready → sent`
with their PaymentRequestSent, grouped in PaymentRequestsMoved (service_layer/uploads.py): a request is `sent` only once its upload is
recorded. A restart (or the next `send`) finds each file not yet written
and resumes from what the database and the folder show (asp-exchange.md §9.2, G2):

* not staged: nothing was handed over (the rename comes after the stage mark): the temporary file, whole
  or not (a disconnect mid-upload), is written again from the stored bytes, then the steps go on;
* staged, final name with the recorded size and hash: renamed but not marked: only the mark is missing
  (outcome `already_there`, nothing uploaded again);
* staged, temporary name with the recorded hash: the rename did not happen: redo it;
* staged, neither name: the temporary file was whole before the mark, so only the rename removed it, and
  the pick-up took the file: it is never sent again (that would be a second upload); the mark records the
  handover as unconfirmed for an operator (outcome `unconfirmed`);
* a final name holding other bytes: never overwritten (FileOnDiskConflict).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import structlog
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import requests_repo as repo
from aplypro_asp_gateway.adapters.local_folder import LocalFolderTransport
from aplypro_asp_gateway.adapters.requests_repo import FileToWrite
from aplypro_asp_gateway.adapters.transport import Transport, TransportSession
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.errors import FileOnDiskConflict
from aplypro_asp_gateway.service_layer.moves import Grouping
from aplypro_asp_gateway.service_layer.uploads import record_upload

log = structlog.get_logger(__name__)

Outcome = Literal["uploaded", "already_there", "unconfirmed"]


@dataclass(frozen=True)
class Handover:
    name: str
    outcome: Outcome


def transport_for(settings: AspSettings) -> Transport:
    """SFTP when a host is set, the local outbox and inbox folders otherwise (the default of development)."""
    if settings.sftp_host is None:
        return LocalFolderTransport(settings.outbox_dir, settings.inbox_dir)
    # Imported here: asyncssh costs every gateway process (relay and consumer children too) ~1 s to load.
    from aplypro_asp_gateway.adapters.sftp import SftpConfig, SftpTransport

    # AspSettings refuses a host without them.
    assert settings.sftp_user is not None
    assert settings.sftp_known_hosts is not None
    return SftpTransport(SftpConfig(
        host=settings.sftp_host, port=settings.sftp_port, user=settings.sftp_user,
        known_hosts=settings.sftp_known_hosts, upload_dir=settings.sftp_upload_dir,
        return_dir=settings.sftp_return_dir, key_path=settings.sftp_key_path,
        password=settings.sftp_password.get_secret_value() if settings.sftp_password else None,
        timeout_s=settings.sftp_timeout_s,
    ))


async def write_pending_files(conn: Connection, target: Path | Transport, *, topic: str, grouping: Grouping,
                              at: datetime | None = None) -> list[str]:
    """Hand over every built file not yet written; a folder path means the local-folder transport."""
    transport = LocalFolderTransport(target) if isinstance(target, Path) else target
    return [h.name for h in await hand_over_pending(conn, transport, topic=topic, grouping=grouping, at=at)]


async def hand_over_pending(conn: Connection, transport: Transport, *, topic: str, grouping: Grouping,
                            at: datetime | None = None, kind: str | None = None) -> list[Handover]:
    """Put in the drop folder every built file not yet written (this run's, or one a crash left behind); only the
    files of `kind` when given (an address-correction run, outside the send window, leaves payment files alone).

    One instance at a time per schema (a session lock, released if the process dies): two replicas
    resuming the same file could each rename it, a second handover. A busy lock means another instance
    is at it: nothing to do here. No file waiting: no connection opened.
    """
    if not await repo.try_lock_handover(conn):
        return []
    try:
        files = await repo.files_to_write(conn, kind)
        if not files:
            return []
        done = []
        async with transport.session() as session:
            for file in files:
                outcome = await _hand_over(conn, session, file)
                await _mark(conn, transport, file.name, outcome, topic=topic, grouping=grouping, at=at)
                done.append(Handover(file.name, outcome))
        return done
    finally:
        await repo.unlock_handover(conn)


async def _mark(conn: Connection, transport: Transport, name: str, outcome: Outcome, *, topic: str,
                grouping: Grouping, at: datetime | None) -> None:
    """The handover recorded, and with it the file's requests `sent` (service_layer/uploads.py)."""
    await record_upload(conn, name, topic=topic, grouping=grouping, outcome=outcome,
                        destination=transport.destination, at=at)
    log.info("payment_file_written", file_name=name, outcome=outcome)


async def _matches(session: TransportSession, file: FileToWrite, *, partial: bool) -> bool | None:
    """None when absent; else whether the folder holds the recorded bytes (size first, hash when equal)."""
    size = await session.size_of(file.name, partial=partial)
    if size is None:
        return None
    return size == len(file.content) and await session.sha256_of(file.name, partial=partial) == file.sha256


async def _hand_over(conn: Connection, session: TransportSession, file: FileToWrite) -> Outcome:
    final = await _matches(session, file, partial=False)
    if final is not None:
        if not final:
            raise FileOnDiskConflict("the drop folder holds other bytes under this file's name")
        return "already_there"  # renamed before a crash: only the mark was missing
    if file.staged:
        if not await _matches(session, file, partial=True):
            # Whole before the stage mark, gone now: renamed, then taken. Never a second handover.
            log.warning("payment_file_handover_unconfirmed", file_name=file.name)
            return "unconfirmed"
    else:
        await session.write_partial(file.name, file.content)
        await repo.mark_staged(conn, file.name)
    await session.publish(file.name)
    return "uploaded"
