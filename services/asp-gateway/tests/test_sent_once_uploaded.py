"""A request is `sent` only once its file's upload is recorded (lifecycles.md §2 "ready → sent: its file is
uploaded"; asp-exchange.md §9.2 G2), and its PaymentRequestSent is written with that record, in the same
transaction.

Real PostgreSQL, the real build and the fake ASP (a real asyncssh server): the ASP refuses the rename that
hands the file over; the requests stay `ready` (bound to their file, in no other batch) with no event; the next
send uploads the same file once, and only then are they `sent`, with one event each. And when the handover
dies after the rename, an answer of the ASP naming the file records the upload (G2) before it is applied.
The build itself announces each request `ready` with the RIB frozen in the file (PaymentRequestStateChanged v3):
the students service's `unarchivable_rib` guard starts there, not at the upload.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.adapters.sftp import SftpSession
from aplypro_asp_gateway.adapters.transport import TransportFailed
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import PaymentRequestSent, PaymentRequestStateChanged
from aplypro_local.fake_asp import Behaviour

from .conftest import feed, register, request
from .fake_asp_world import fake_asp
from .ingest_world import ingest, integrations
from .published import outbox_events
from .return_samples import integration_line

pytestmark = pytest.mark.integration


async def sent_events(pool: asyncpg.Pool) -> list[PaymentRequestSent]:
    return await outbox_events(pool, "PaymentRequestSent")


async def ready_events(pool: asyncpg.Pool) -> list[PaymentRequestStateChanged]:
    return [e for e in await outbox_events(pool, "PaymentRequestStateChanged") if e.state == "ready"]


async def states(pool: asyncpg.Pool) -> set[tuple[str, str | None]]:
    return {(r["state"], r["file_name"]) for r in await pool.fetch("SELECT state, file_name FROM payment_requests")}


async def test_a_refused_upload_leaves_the_requests_not_sent_and_the_next_send_uploads_the_file_once(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path
) -> None:
    events = [request(*await register(pool, n)) for n in range(2)]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)
    behaviour = Behaviour(remove_taken=False)
    behaviour.faults.fail_renames = 1
    async with fake_asp(tmp_path, behaviour) as world:
        sftp = replace(options, transport=world.transport())

        # The file is built and committed, then the ASP's server refuses the handover.
        with pytest.raises(TransportFailed):
            await build_payment_file(pool, sftp)
        name = await pool.fetchval("SELECT file_name FROM asp_files")
        assert await pool.fetchval("SELECT written_at FROM asp_files") is None
        # Not sent, and nobody told so: bound to the file, `ready`, no PaymentRequestSent, no upload at the ASP.
        assert await states(pool) == {("ready", name)}
        assert await sent_events(pool) == []
        # But the build announced each request `ready` with the RIB frozen in the file (committed with it): the
        # students service refuses to archive that RIB from now on (unarchivable_rib), not from the upload only.
        frozen = {r["payment_request_id"]: r["rib_id"] for r in await pool.fetch(
            "SELECT payment_request_id, rib_id FROM payment_requests")}
        built = await ready_events(pool)
        assert {e.payment_request_id: e.rib_id for e in built} == frozen
        assert None not in frozen.values()
        assert {e.version for e in built} == {1}
        assert dict(world.fake.uploads) == {}
        assert await pool.fetchval("SELECT sent_at FROM payment_requests LIMIT 1") is None

        # The next send: no new file for them, the same file uploaded once; now they are sent, one event each.
        again = await build_payment_file(pool, sftp)
        assert (again.file_name, again.written) == (None, [name])
        assert await pool.fetchval("SELECT count(*) FROM asp_files") == 1
        assert dict(world.fake.uploads) == {name: 1}
        assert set(world.fake.record_counts.values()) == {1}
        assert await states(pool) == {("sent", name)}
        sent = await sent_events(pool)
        assert sorted(str(e.payment_request_id) for e in sent) == sorted(str(e.payment_request_id) for e in events)
        assert {(e.file_name, e.version) for e in sent} == {(name, 2)}  # after the build's `ready` (version 1)
        # each names the RIB frozen on it (issue 13: the students service keeps it current until the request ends)
        assert {e.payment_request_id: e.rib_id for e in sent} == frozen
        assert len(await ready_events(pool)) == 2  # the re-send announced nothing again

        # A third run records nothing again: no second event.
        await build_payment_file(pool, sftp)
        assert len(await sent_events(pool)) == 2


class Crash(BaseException):
    """The process dies here: BaseException, so no `except Exception` on the way can swallow it."""


async def test_an_answer_naming_a_file_whose_upload_was_not_recorded_records_it_and_nothing_is_uploaded_again(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = request(*await register(pool, 0))
    await feed(pool, projection.on_payment_requested, event)
    renamed = SftpSession.publish

    async def rename_then_die(self: SftpSession, name: str) -> None:
        await renamed(self, name)
        raise Crash  # renamed on the server (and taken by the ASP's pick-up), not recorded here

    async with fake_asp(tmp_path, Behaviour(remove_taken=True)) as world:
        sftp = replace(options, transport=world.transport())
        monkeypatch.setattr(SftpSession, "publish", rename_then_die)
        with pytest.raises(Crash):
            await build_payment_file(pool, sftp)
        monkeypatch.setattr(SftpSession, "publish", renamed)
        name = await pool.fetchval("SELECT file_name FROM asp_files")
        assert await states(pool) == {("ready", name)}

        # The ASP's integration answer comes before the next send: it proves receipt (G2). The upload is
        # recorded (`answered`), the request goes `sent` then `integrated`, one event each, in that order.
        record_id = await pool.fetchval("SELECT record_id FROM file_records")
        [answer] = await ingest(pool, options, integrations(name, [], integration_line(record_id, 0)))
        assert answer.applied == 1
        assert await states(pool) == {("integrated", name)}
        assert await pool.fetchval("SELECT handover_outcome FROM asp_files") == "answered"
        moves = await outbox_events(pool, "PaymentRequestStateChanged", "PaymentRequestSent")
        kinds = [e.event_type for e in moves]
        assert kinds == ["PaymentRequestStateChanged", "PaymentRequestSent", "PaymentRequestStateChanged"]  # ready
        assert [e.version for e in moves] == [1, 2, 3]

        # The next send finds nothing to hand over: the file reached the ASP once.
        assert (await build_payment_file(pool, sftp)).written == []
        assert dict(world.fake.uploads) == {name: 1}
