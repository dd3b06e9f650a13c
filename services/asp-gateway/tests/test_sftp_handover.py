"""A payment file reaches the ASP's SFTP drop folder exactly once, whatever fails in between (§9.2, G1/G2).

Real PostgreSQL, the real build, and the fake ASP (a real asyncssh server) counting every arrival under a
final name: each test injects one fault, sends again, and asserts one upload of the file and one receipt
of each idEnregistrement.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters.sftp import SftpSession, SftpTransport
from aplypro_asp_gateway.adapters.transport import TransportFailed
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_local.fake_asp import Behaviour

from .conftest import feed, register, request
from .fake_asp_world import World, fake_asp

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies here: BaseException, so no `except Exception` on the way can swallow it."""


async def two_requests(pool: asyncpg.Pool) -> None:
    for n in range(2):
        await feed(pool, projection.on_payment_requested, request(*await register(pool, n)))


async def the_file(pool: asyncpg.Pool) -> asyncpg.Record:
    rows = await pool.fetch("SELECT file_name, sha256, record_count, written_at, destination, handover_outcome "
                            "FROM asp_files")
    assert len(rows) == 1
    return rows[0]


def received_once(world: World, name: str, records: int) -> None:
    """One arrival of the file under its final name, each of its records received once by the ASP."""
    assert dict(world.fake.uploads) == {name: 1}
    assert len(world.fake.record_counts) == records
    assert set(world.fake.record_counts.values()) == {1}
    assert [v.code for v in world.fake.violations if v.code.startswith("duplicate")] == []


async def test_a_built_file_is_uploaded_under_its_final_name_and_recorded(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path
) -> None:
    await two_requests(pool)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False)) as world:
        result = await build_payment_file(pool, replace(options, transport=world.transport()))

        file = await the_file(pool)
        assert result.written == [file["file_name"]]
        received_once(world, file["file_name"], 2)
        on_server = (world.fake.upload_dir / file["file_name"]).read_bytes()
        assert hashlib.sha256(on_server).hexdigest() == file["sha256"]
        assert world.fake.files(world.fake.upload_dir) == [file["file_name"]]  # no temporary file left
        assert (file["handover_outcome"], file["destination"]) == (
            "uploaded", f"sftp://aplypro@127.0.0.1:{world.fake.port}/depot")


@pytest.mark.parametrize(("taken", "outcome"), [(False, "already_there"), (True, "unconfirmed")])
async def test_a_crash_between_the_rename_and_the_record_never_uploads_again(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    taken: bool, outcome: str,
) -> None:
    await two_requests(pool)
    renamed = SftpSession.publish

    async def rename_then_die(self: SftpSession, name: str) -> None:
        await renamed(self, name)
        raise Crash  # renamed on the server, not recorded here

    async with fake_asp(tmp_path, Behaviour(remove_taken=taken)) as world:
        sftp = replace(options, transport=world.transport())
        monkeypatch.setattr(SftpSession, "publish", rename_then_die)
        with pytest.raises(Crash):
            await build_payment_file(pool, sftp)
        assert (await the_file(pool))["written_at"] is None
        monkeypatch.setattr(SftpSession, "publish", renamed)

        # The next send looks at the drop folder first: the file is there (or was taken by the ASP's
        # pick-up); it records the handover and uploads nothing.
        await build_payment_file(pool, sftp)
        await build_payment_file(pool, sftp)

        file = await the_file(pool)
        received_once(world, file["file_name"], 2)
        assert file["written_at"] is not None
        assert file["handover_outcome"] == outcome


async def test_a_disconnect_mid_upload_is_retried_and_the_file_arrives_once(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path
) -> None:
    await two_requests(pool)
    behaviour = Behaviour(remove_taken=False)
    behaviour.faults.disconnect_after_bytes = 500
    async with fake_asp(tmp_path, behaviour) as world:
        sftp = replace(options, transport=world.transport())
        with pytest.raises(TransportFailed):
            await build_payment_file(pool, sftp)
        # Cut mid-write: only the temporary name holds (part of) the bytes; nothing recorded as sent.
        name = (await the_file(pool))["file_name"]
        assert world.fake.files(world.fake.upload_dir) == [f".{name}.part"]
        assert (await the_file(pool))["written_at"] is None

        await build_payment_file(pool, sftp)  # the retry writes the temporary file again, then renames

        file = await the_file(pool)
        received_once(world, name, 2)
        assert world.fake.files(world.fake.upload_dir) == [name]
        assert hashlib.sha256((world.fake.upload_dir / name).read_bytes()).hexdigest() == file["sha256"]
        assert file["handover_outcome"] == "uploaded"


async def test_a_refused_rename_is_redone_from_the_temporary_file(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path
) -> None:
    await two_requests(pool)
    behaviour = Behaviour()
    behaviour.faults.fail_renames = 1
    async with fake_asp(tmp_path, behaviour) as world:
        sftp = replace(options, transport=world.transport())
        with pytest.raises(TransportFailed):
            await build_payment_file(pool, sftp)
        assert world.fake.uploads == {}

        await build_payment_file(pool, sftp)

        received_once(world, (await the_file(pool))["file_name"], 2)


async def test_a_slow_server_times_out_and_the_next_send_uploads_once(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path
) -> None:
    await two_requests(pool)
    behaviour = Behaviour()
    behaviour.faults.delay_s = 0.5
    async with fake_asp(tmp_path, behaviour) as world:
        with pytest.raises(TransportFailed):
            await build_payment_file(pool, replace(options, transport=world.transport(timeout_s=0.2)))
        behaviour.faults.delay_s = 0

        await build_payment_file(pool, replace(options, transport=world.transport()))

        received_once(world, (await the_file(pool))["file_name"], 2)


async def test_a_resend_of_a_recorded_file_is_a_no_op(
    pool: asyncpg.Pool, options: BuildOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await two_requests(pool)
    async with fake_asp(tmp_path) as world:
        sftp = replace(options, transport=world.transport())
        await build_payment_file(pool, sftp)
        connections = 0
        real_session = SftpTransport.session

        def counting(self: Any) -> Any:
            nonlocal connections
            connections += 1
            return real_session(self)

        monkeypatch.setattr(SftpTransport, "session", counting)

        again = await build_payment_file(pool, sftp)

        assert (again.file_name, again.written) == (None, [])
        assert connections == 0  # nothing waiting: the server is not even contacted
        received_once(world, (await the_file(pool))["file_name"], 2)
