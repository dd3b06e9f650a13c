"""`aplypro-asp-gateway send` over SFTP to the fake ASP, and the return files fetched from its read folder.

The CLI runs its own event loop in a thread while the fake ASP serves from the test's loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters.local_folder import LocalFolderTransport
from aplypro_asp_gateway.entrypoints.cli import app
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.fetch_returns import download_new_returns
from aplypro_local.fake_asp import Behaviour
from aplypro_local.fake_asp.returns import truncated
from typer.testing import CliRunner

from .conftest import feed, register, request
from .fake_asp_world import fake_asp

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("logging_restored")]



async def gateway(command: str, database_url: str, namespace: str, tmp_path: Path, **env: str) -> list[dict[str, object]]:
    """One run of an `aplypro-asp-gateway` command on the test's schema; its JSON lines."""
    base = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_JSON": "false",
            "APLYPRO_ASP_OUTBOX_DIR": str(tmp_path / "outbox")}
    result = await asyncio.to_thread(CliRunner().invoke, app, [command], env=base | env)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


async def students_requesting(pool: asyncpg.Pool, count: int) -> None:
    """`count` students, each with a RIB, a schooling and one payment request, known to the gateway."""
    for n in range(count):
        await feed(pool, projection.on_payment_requested, request(*await register(pool, n)))


async def send(database_url: str, namespace: str, tmp_path: Path, **env: str) -> list[dict[str, object]]:
    return await gateway("send", database_url, namespace, tmp_path, **env)


async def test_send_uploads_what_is_ready_and_prints_one_json_line_per_file(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await students_requesting(pool, 2)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False)) as world:
        lines = await send(database_url, namespace, tmp_path, **world.env())

        name = await pool.fetchval("SELECT file_name FROM asp_files")
        content = (world.fake.upload_dir / name).read_bytes()
        assert lines == [{"name": name, "records": 2, "sha256": hashlib.sha256(content).hexdigest(),
                          "destination": f"sftp://aplypro@127.0.0.1:{world.fake.port}/depot", "state": "uploaded"}]
        assert world.fake.uploads == {name: 1}
        # Nothing new: a second exchange prints nothing and uploads nothing.
        assert await send(database_url, namespace, tmp_path, **world.env()) == []
        assert world.fake.uploads == {name: 1}


async def test_send_without_a_host_writes_into_the_local_outbox_as_before(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))

    [line] = await send(database_url, namespace, tmp_path)

    assert line["destination"] == str((tmp_path / "outbox").resolve())
    assert line["state"] == "uploaded"
    assert (tmp_path / "outbox" / str(line["name"])).is_file()


async def test_return_files_are_fetched_once_kept_whole_and_removed_after_commit(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # Each answer first comes truncated, then whole, then whole again (delivered twice).
    behaviour = Behaviour()
    behaviour.faults.truncate_returns = True
    behaviour.faults.deliver_twice = True
    async with fake_asp(tmp_path, behaviour) as world:
        content = b"Numero enregistrement;idIndDoss\n4242;1234890\n"
        world.fake.write_return("identifiants_generes_nps_ficimport_idp_x_20260520013000.csv", content)
        cut = len(truncated(content))
        whole = (world.fake.return_dir / "identifiants_generes_nps_ficimport_idp_x_20260520013000.csv")
        transport = world.transport()

        first = await download_new_returns(pool, transport)  # the cut file
        second = await download_new_returns(pool, transport)  # the whole file: a new version
        third = await download_new_returns(pool, transport)  # the whole file again: seen before
        fourth = await download_new_returns(pool, transport)

        assert [(f.new, f.size) for f in first + second + third] == [(True, cut), (True, len(content)),
                                                                   (False, len(content))]
        assert fourth == []
        assert not whole.exists()  # removed from the server once stored
        rows = await pool.fetch("SELECT size, times_seen, source FROM fetched_returns ORDER BY size")
        assert [(r["size"], r["times_seen"]) for r in rows] == [(cut, 1), (len(content), 2)]
        assert rows[0]["source"] == f"sftp://aplypro@127.0.0.1:{world.fake.port}/retour"


async def test_return_files_left_on_the_server_are_not_fetched_again(pool: asyncpg.Pool, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / ".keep").touch()
    (inbox / "renvoi_paiement_APLYPROMOCK_20260605.xml").write_bytes(b"<LISTEPAIEMENT/>")
    transport = LocalFolderTransport(tmp_path / "outbox", inbox)

    first = await download_new_returns(pool, transport, delete=False)
    again = await download_new_returns(pool, transport, delete=False)

    assert [f.name for f in first] == ["renvoi_paiement_APLYPROMOCK_20260605.xml"]
    assert again == []
    assert (inbox / "renvoi_paiement_APLYPROMOCK_20260605.xml").exists()


async def poll_cli(database_url: str, namespace: str, tmp_path: Path, **env: str) -> list[dict[str, object]]:
    return await gateway("poll", database_url, namespace, tmp_path, **env)


async def test_poll_over_sftp_ingests_the_fake_asps_answers_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated: three requests sent over SFTP; the fake ASP integrates two and rejects one (seeded); `poll`
    # downloads its answers, ingests them, and a second poll finds nothing new.
    await students_requesting(pool, 3)
    async with fake_asp(tmp_path, Behaviour(reject_rate=0.34, seed=3)) as world:
        [sent] = await send(database_url, namespace, tmp_path, **world.env())
        results = await poll_cli(database_url, namespace, tmp_path, **world.env())
        assert {r["kind"] for r in results} == {"integrations", "rejects"}
        assert all(r["outcome"] == "ingested" and r["unmatched"] == 0 for r in results), results
        assert world.fake.files(world.fake.return_dir) == []  # removed once committed
        assert await poll_cli(database_url, namespace, tmp_path, **world.env()) == []
    states = sorted(r["state"] for r in await pool.fetch("SELECT state FROM payment_requests"))
    assert sent["records"] == 3
    assert len(states) == 3
    assert set(states) <= {"integrated", "rejected"}, states  # every request answered
    assert sum(int(str(r["applied"])) for r in results) == 3


async def test_the_fake_asps_payment_return_moves_integrated_requests_to_paid_or_unpaid(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated: three requests sent and integrated; the fake ASP pays some and fails some (seeded unpaid rate);
    # `poll` ingests its payments return: `paid` with their net amount, `unpaid` with its §6.2 reason.
    await students_requesting(pool, 3)
    async with fake_asp(tmp_path, Behaviour(unpaid_rate=0.5, seed=1)) as world:
        await send(database_url, namespace, tmp_path, **world.env())
        await poll_cli(database_url, namespace, tmp_path, **world.env())
        name = world.fake.emit_payments()
        assert name is not None
        assert name.startswith("renvoi_paiement_APLYPROMOCK_")
        assert world.fake.emit_payments() is None  # every integrated record answered once
        [result] = await poll_cli(database_url, namespace, tmp_path, **world.env())
    assert result["kind"] == "payments"
    assert result["applied"] == 3
    rows = await pool.fetch("SELECT state, paid_cents, amount_cents, return_reasons FROM payment_requests")
    paid = [r for r in rows if r["state"] == "paid"]
    unpaid = [r for r in rows if r["state"] == "unpaid"]
    assert len(paid) + len(unpaid) == 3
    assert paid
    assert unpaid  # seed 1 at 50 %: at least one failure (the draw is reproducible)
    assert all(r["paid_cents"] == r["amount_cents"] for r in paid)  # MTNET = what was sent
    assert all(r["return_reasons"] for r in unpaid)


async def test_two_pfmps_of_one_student_reach_the_fake_asp_one_creation_at_a_time_and_are_both_paid(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated (§4.3): two PFMPs of one schooling. The first file creates the student's dossier with the first
    # PFMP only; once `poll` read its integration, the next `send` carries the second PFMP with the ASP's
    # idIndividu/idDoss, and the fake ASP integrates it (a second creation of the DA number would be refused
    # as "n'est pas unique"). Its payments return then pays both.
    student, schooling = await register(pool, 0)
    for rank in (1, 2):
        await feed(pool, projection.on_payment_requested, request(student, schooling, rank))
    async with fake_asp(tmp_path, Behaviour(unpaid_rate=0.0)) as world:
        [first] = await send(database_url, namespace, tmp_path, **world.env())
        await poll_cli(database_url, namespace, tmp_path, **world.env())
        refused = await pool.fetch("SELECT return_reasons FROM payment_requests WHERE state = 'rejected'")
        assert [r["return_reasons"] for r in refused] == []
        assert first["records"] == 1
        [second] = await send(database_url, namespace, tmp_path, **world.env())
        assert second["records"] == 1
        content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", second["name"])
        assert b"idIndividu=" in content
        assert b"idDoss=" in content
        answers = await poll_cli(database_url, namespace, tmp_path, **world.env())
        assert {(r["kind"], r["lines"], r["applied"]) for r in answers} == {("integrations", 1, 1),
                                                                           ("rejects", 0, 0)}, answers
        states = [r["state"] for r in await pool.fetch("SELECT state FROM payment_requests")]
        assert states == ["integrated"] * 2  # not rejected as "n'est pas unique"
        assert world.fake.emit_payments() is not None
        await poll_cli(database_url, namespace, tmp_path, **world.env())
    rows = await pool.fetch("SELECT state, return_reasons FROM payment_requests")
    assert [(r["state"], r["return_reasons"]) for r in rows] == [("paid", [])] * 2


async def test_status_shows_requests_per_state_and_reason_and_the_last_files_sent_and_received(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated: two requests leave in one file, a third waits for its RIB; the fake ASP integrates both and
    # `poll` reads its answers. `status` says it all: states, the blocking reason, the file sent, the returns.
    await students_requesting(pool, 2)
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 9, with_rib=False)))
    async with fake_asp(tmp_path, Behaviour(remove_taken=False)) as world:
        [sent] = await send(database_url, namespace, tmp_path, **world.env())
        await poll_cli(database_url, namespace, tmp_path, **world.env())
        [line] = await gateway("status", database_url, namespace, tmp_path, **world.env())
    status: dict[str, Any] = line

    assert status["states"] == {"integrated": 2, "pending": 1}
    assert status["blocked"] == {"missing_rib": 1}
    [file] = status["last_files_sent"]
    assert (file["file_name"], file["kind"], file["records"], file["outcome"]) == (
        sent["name"], "payment", 2, "uploaded")
    assert file["uploaded_at"] is not None
    assert file["destination"] == sent["destination"]
    upload = str(sent["name"])[:-4]
    assert sorted(r["file_name"] for r in status["last_returns"]) == [
        f"identifiants_generes_{upload}.csv", f"rejets_integ_idp_{upload}.csv"]
