"""A payment file is written and handed over exactly once, whatever crash happens in between (issue 9).

Each test crashes the build at one step of the handover (a failure injected into that step), lets an
uploader take whatever the drop folder shows, restarts the build, lets the uploader take again, and counts:
one file per set of requests, no request in two files, no file handed over twice.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import file_drop, requests_repo, send_repo
from aplypro_asp_gateway.domain.errors import FileOnDiskConflict
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file, write_pending_files
from lxml import etree

from .conftest import feed, register, request
from .published import outbox_events

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies here: BaseException, so no `except Exception` on the way can swallow it."""


def crash_once(module: Any, name: str, *, before: bool = True, torn: bool = False) -> Callable[..., Any]:
    """Replace `module.name` by a step that crashes once (before or after doing its work), then behaves."""
    real = getattr(module, name)
    calls = {"n": 0}

    def step(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            return real(*args, **kwargs)
        if torn:  # a power cut mid-write: half the bytes in the part file
            folder, name_, content = args
            folder.mkdir(parents=True, exist_ok=True)
            file_drop.partial_path(folder, name_).write_bytes(content[: len(content) // 2])
        elif not before:
            real(*args, **kwargs)
        raise Crash

    async def async_step(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            return await real(*args, **kwargs)
        if not before:
            await real(*args, **kwargs)
        raise Crash

    return async_step if inspect.iscoroutinefunction(real) else step


class Uploader:
    """Takes every payment file the drop folder shows (never the hidden part files), as the SFTP push does."""

    def __init__(self, outbox: Path, taken: Path) -> None:
        self.outbox, self.taken, self.handovers = outbox, taken, Counter[str]()

    def take(self) -> None:
        self.taken.mkdir(exist_ok=True)
        for path in sorted(self.outbox.glob("nps_ficimport_idp_*.xml")):
            self.handovers[path.name] += 1
            shutil.move(path, self.taken / f"{path.name}.{self.handovers[path.name]}")


# (module, step, crash after the step's work instead of before, torn write, the uploader runs at the crash)
async def sent_events(pool: asyncpg.Pool) -> int:
    return len(await outbox_events(pool, "PaymentRequestSent"))


CRASH_POINTS = {
    "after the commit, nothing on disk": (file_drop, "write_partial", False, False, True),
    "mid-write of the part file": (file_drop, "write_partial", False, True, True),
    "part file durable, not staged": (requests_repo, "mark_staged", False, False, True),
    "staged, before the rename": (file_drop, "publish", False, False, True),
    "renamed, before the mark, file still there": (send_repo, "mark_uploaded", False, False, False),
    "renamed, before the mark, file already taken": (send_repo, "mark_uploaded", False, False, True),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
async def test_a_crash_at_any_handover_step_hands_the_file_over_exactly_once(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    module, step, after, torn, upload_at_crash = CRASH_POINTS[point]
    uploader = Uploader(options.outbox_dir, tmp_path / "taken")
    events = [request(*await register(pool, n)) for n in range(2)]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)
    monkeypatch.setattr(module, step, crash_once(module, step, before=not after, torn=torn))

    # The build crashes at the step; the uploader may pass before the restart.
    with pytest.raises(Crash):
        await build_payment_file(pool, options)
    # Whatever the step, the upload is not recorded: no request is `sent`, no PaymentRequestSent is written.
    assert await pool.fetchval("SELECT count(*) FROM payment_requests WHERE state = 'sent'") == 0
    assert await sent_events(pool) == 0
    if upload_at_crash:
        uploader.take()
    inode = os.stat(p).st_ino if (p := next(options.outbox_dir.glob("*.xml"), None)) else None
    # The restart (twice: a resumed handover must not repeat on the next run), then the uploader.
    await build_payment_file(pool, options)
    await build_payment_file(pool, options)
    if inode is not None:  # a file left in place is marked, not written again
        assert os.stat(next(options.outbox_dir.glob("*.xml"))).st_ino == inode
    uploader.take()

    # One file for the two requests, handed over once, with its recorded bytes; no part file left.
    files = await pool.fetch("SELECT file_name, sha256, written_at FROM asp_files")
    assert len(files) == 1
    assert files[0]["written_at"] is not None
    assert dict(uploader.handovers) == {files[0]["file_name"]: 1}
    assert list(options.outbox_dir.iterdir()) == []
    content = (uploader.taken / f"{files[0]['file_name']}.1").read_bytes()
    assert hashlib.sha256(content).hexdigest() == files[0]["sha256"]
    # No request in two files: each record id once, and every request sent in that file.
    ids = [e.get("idEnregistrement") for e in etree.fromstring(content).iter("{*}ENREGISTREMENT")]
    rows = await pool.fetch("SELECT record_id, state, file_name FROM payment_requests ORDER BY record_id")
    assert sorted(ids) == sorted(str(r["record_id"]) for r in rows)
    assert {(r["state"], r["file_name"]) for r in rows} == {("sent", files[0]["file_name"])}
    assert await pool.fetchval("SELECT count(*) FROM file_records") == 2
    assert await sent_events(pool) == 2  # one PaymentRequestSent each, written with the upload's record


async def test_a_file_taken_before_its_mark_is_reported_as_unconfirmed(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))
    monkeypatch.setattr(send_repo, "mark_uploaded", crash_once(send_repo, "mark_uploaded"))
    with pytest.raises(Crash):
        await build_payment_file(pool, options)
    Uploader(options.outbox_dir, tmp_path / "taken").take()

    await build_payment_file(pool, options)

    async with pool.acquire() as conn:
        status = await requests_repo.status(conn)
    assert (status["files_not_written"], status["files_handover_unconfirmed"]) == (0, 1)


async def test_a_final_name_holding_other_bytes_is_never_overwritten(
    pool: asyncpg.Pool, options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))
    monkeypatch.setattr(file_drop, "write_partial", crash_once(file_drop, "write_partial"))
    with pytest.raises(Crash):
        await build_payment_file(pool, options)
    name = await pool.fetchval("SELECT file_name FROM asp_files")
    options.outbox_dir.mkdir(parents=True, exist_ok=True)
    (options.outbox_dir / name).write_bytes(b"someone else's file")

    with pytest.raises(FileOnDiskConflict):
        await build_payment_file(pool, options)
    assert (options.outbox_dir / name).read_bytes() == b"someone else's file"


async def test_a_second_instance_leaves_the_handover_to_the_one_at_it(
    pool: asyncpg.Pool, options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two replicas: while one holds the handover (its session lock), the other writes nothing, so they can
    # never both rename the same file.
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))
    monkeypatch.setattr(file_drop, "write_partial", crash_once(file_drop, "write_partial"))
    with pytest.raises(Crash):
        await build_payment_file(pool, options)
    async with pool.acquire() as busy, pool.acquire() as other:
        assert await requests_repo.try_lock_handover(busy)
        hand_over = partial(write_pending_files, other, options.outbox_dir, topic=options.topic,
                            grouping=options.grouping)
        assert await hand_over() == []
        await requests_repo.unlock_handover(busy)
        assert len(await hand_over()) == 1
    assert len(list(options.outbox_dir.glob("*.xml"))) == 1
