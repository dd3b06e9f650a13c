"""The gateway against the fake ASP's answer options (asp-exchange.md §10, pick-up): answers split over two
pick-ups, records left unanswered, every line twice, a line for a record never sent, UTF-8 and CRLF instead of
Windows-1252 and LF, an unrelated file in the read folder, an answer delivered twice, a return the server
refuses to remove, a file the ASP finds invalid, a refused login. Each is read, reported or refused, and no request
moves twice. Real PostgreSQL, the real SFTP fake, the `send` and `poll` commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.adapters.transport import TransportFailed
from aplypro_asp_gateway.domain.asp_errors import classify_reject
from aplypro_asp_gateway.entrypoints.cli import app
from aplypro_asp_gateway.service_layer.answer_watch import watch_answers
from aplypro_asp_gateway.service_layer.fetch_returns import download_new_returns
from aplypro_local.fake_asp import AnswerOptions, Behaviour
from aplypro_local.fake_asp.options import UNKNOWN_RECORD_ID, UNRELATED_FILE
from typer.testing import CliRunner

from .conftest import IBANS
from .fake_asp_options_world import events, exchange, record_ids, states, students_requesting, unmatched
from .fake_asp_world import fake_asp

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("logging_restored")]

SEPA_REASON = "L'IBAN ne fait pas partie de la zone SEPA."
ACCENTED_REASON = "La commune de naissance sélectionnée n'existait pas à la date de naissance de l'individu"


async def test_an_answer_split_over_two_pick_ups_integrates_each_request_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await students_requesting(pool, 3)
    async with fake_asp(tmp_path, Behaviour(answers=AnswerOptions(split=True))) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        # First pick-up: two of the three integration lines; the third request is still waiting.
        first = {r["kind"]: r for r in await run.poll()}
        assert (first["integrations"]["lines"], first["integrations"]["applied"]) == (2, 2)
        assert await states(pool) == {"integrated": 2, "sent": 1}
        # The next pick-up writes the rest under the same name: a new version, only the rest applied.
        world.fake.process_uploads()
        second = {r["kind"]: r for r in await run.poll()}
        assert (second["integrations"]["lines"], second["integrations"]["applied"]) == (1, 1)
        assert "rejects" not in second  # the same empty rejects file again: fetched, counted, not read again
        assert await pool.fetchval("SELECT times_seen FROM fetched_returns WHERE file_name LIKE 'rejets%'") == 2
    assert await states(pool) == {"integrated": 3}
    assert await events(pool) == 3
    assert await unmatched(pool) == []


async def test_a_split_answer_rewritten_before_the_poll_is_read_whole_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await students_requesting(pool, 3)
    async with fake_asp(tmp_path, Behaviour(answers=AnswerOptions(split=True))) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        world.fake.process_uploads()  # the next pick-up comes before our poll: the file is rewritten whole
        results = {r["kind"]: r for r in await run.poll()}
        assert (results["integrations"]["lines"], results["integrations"]["applied"]) == (3, 3)
        assert await run.poll() == []
    assert await states(pool) == {"integrated": 3}
    assert await events(pool) == 3


async def test_a_record_the_asp_never_answers_stays_sent_and_is_flagged_overdue(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await students_requesting(pool, 2)
    behaviour = Behaviour(auto_pickup=False)
    async with fake_asp(tmp_path, behaviour) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        first, omitted = await record_ids(pool)
        behaviour.answers.omit_records = {omitted}
        world.fake.process_uploads()
        await run.poll()
    assert await states(pool) == {"integrated": 1, "sent": 1}
    # G5: past the answer timeout (two working days) the unanswered request is flagged, the other is not.
    later = datetime.now(UTC) + timedelta(days=7)
    async with pool.acquire() as conn:
        overdue, _ = await watch_answers(conn, later, answer_days=2, payment_days=30)
    assert overdue == 1
    flagged = await pool.fetch("SELECT fr.record_id FROM payment_requests pr JOIN file_records fr "
                               "USING (payment_request_id) WHERE pr.answer_overdue_at IS NOT NULL")
    assert [r["record_id"] for r in flagged] == [omitted]
    assert first != omitted


async def test_doubled_lines_move_each_request_once_and_a_stray_line_is_kept_as_unmatched(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await students_requesting(pool, 2)  # the second pays into IBANS[1], which the fake refuses
    behaviour = Behaviour(reject_ibans={IBANS[1]: SEPA_REASON},
                          answers=AnswerOptions(duplicate_lines=True, unknown_record=True))
    async with fake_asp(tmp_path, behaviour) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        results = {r["kind"]: r for r in await run.poll()}
    # Integrations: the record's line twice and the stray line twice; rejects: the reject twice.
    assert (results["integrations"]["lines"], results["integrations"]["applied"],
            results["integrations"]["duplicates"], results["integrations"]["unmatched"]) == (4, 1, 1, 2)
    assert results["rejects"]["lines"] == 2
    assert results["rejects"]["events"] == 1
    assert await states(pool) == {"integrated": 1, "rejected": 1}
    assert await events(pool) == 2  # one move per request, whatever the doubled lines
    assert await unmatched(pool) == [(UNKNOWN_RECORD_ID, "record_not_in_file")] * 2


@pytest.mark.parametrize(("encoding", "line_ending"), [("utf-8", "\n"), ("cp1252", "\r\n"), ("utf-8", "\r\n")])
async def test_answers_in_utf8_or_with_crlf_are_read_as_the_windows_1252_ones(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, encoding: str, line_ending: str
) -> None:
    await students_requesting(pool, 2)
    behaviour = Behaviour(reject_ibans={IBANS[1]: ACCENTED_REASON},
                          answers=AnswerOptions(encoding=encoding, line_ending=line_ending))  # type: ignore[arg-type]
    async with fake_asp(tmp_path, behaviour) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        results = await run.poll()
    assert all(r["outcome"] == "ingested" and r["unmatched"] == 0 for r in results), results
    assert await states(pool) == {"integrated": 1, "rejected": 1}
    # The accented reason mapped as the Windows-1252 bytes would be: no mojibake reaching the dictionary.
    reasons = await pool.fetchval("SELECT return_reasons FROM payment_requests WHERE state = 'rejected'")
    assert reasons == [classify_reject(ACCENTED_REASON).key]
    assert reasons != [classify_reject(ACCENTED_REASON.encode().decode("cp1252")).key]


async def test_an_unrelated_file_in_the_read_folder_is_refused_and_reported_at_each_poll(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    await students_requesting(pool, 1)
    async with fake_asp(tmp_path, Behaviour(answers=AnswerOptions(unrelated_file=True))) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        results = {r["file"]: r for r in await run.poll()}
        again = await run.poll()
    stray = results[UNRELATED_FILE]
    assert (stray["outcome"], stray["refused"], stray["reason_code"]) == ("refused", 1, "unknown_return_kind")
    assert [(r["file"], r["outcome"]) for r in again] == [(UNRELATED_FILE, "refused")]  # still reported
    assert await states(pool) == {"integrated": 1}  # the answers beside it were read as usual
    # Its bytes are kept (quarantined), never parsed as a payment return.
    assert await pool.fetchval("SELECT count(*) FROM fetched_returns WHERE file_name = $1", UNRELATED_FILE) == 1


async def test_an_answer_delivered_twice_moves_nothing_the_second_time(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    behaviour = Behaviour()
    behaviour.faults.deliver_twice = True
    await students_requesting(pool, 2)
    async with fake_asp(tmp_path, behaviour) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        await run.poll()
        assert await run.poll() == []  # the same bytes again: fetched, counted, not read again
    assert await states(pool) == {"integrated": 2}
    assert await events(pool) == 2
    assert await pool.fetchval("SELECT min(times_seen) FROM fetched_returns") == 2


async def test_a_return_the_server_refuses_to_remove_is_fetched_again_and_applied_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    behaviour = Behaviour()
    behaviour.faults.fail_removes = 1
    await students_requesting(pool, 1)
    async with fake_asp(tmp_path, behaviour) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        # The remove fails after the bytes were committed: the fetch stops and says so, nothing is ingested yet.
        with pytest.raises(TransportFailed):
            await download_new_returns(pool, world.transport())
        assert await states(pool) == {"sent": 1}
        # The next poll reads the file left on the server (the same bytes), removes it and applies it once.
        results = await run.poll()
        assert world.fake.files(world.fake.return_dir) == []
    assert sum(int(r["applied"]) for r in results) == 1
    assert await states(pool) == {"integrated": 1}
    assert await events(pool) == 1


async def test_a_file_the_asp_finds_invalid_gets_every_record_rejected_with_the_set_reason(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    behaviour = Behaviour(validate=lambda content: ["refused by the ASP's schema"], invalid_file_reason=SEPA_REASON)
    await students_requesting(pool, 2)
    async with fake_asp(tmp_path, behaviour) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await run.send()
        await run.poll()
        assert [v.code for v in world.fake.violations] == ["invalid_file"]
    assert await states(pool) == {"rejected": 2}
    reasons = await pool.fetch("SELECT return_reasons FROM payment_requests")
    assert {tuple(r["return_reasons"]) for r in reasons} == {(classify_reject(SEPA_REASON).key,)}


async def test_a_refused_login_sends_nothing_and_the_next_send_uploads_the_file_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    behaviour = Behaviour()
    behaviour.faults.refuse_login = True
    await students_requesting(pool, 1)
    async with fake_asp(tmp_path, behaviour) as world:
        env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_JSON": "false",
               "APLYPRO_ASP_OUTBOX_DIR": str(tmp_path / "outbox")} | world.env()
        refused = await asyncio.to_thread(CliRunner().invoke, app, ["send"], env=env)
        assert refused.exit_code != 0, (refused.stdout, world.fake.uploads)
        assert world.fake.uploads == {}
        assert await states(pool) == {"ready": 1}  # built, bound to its file, not sent
        behaviour.faults.refuse_login = False
        [line] = await exchange(database_url, namespace, tmp_path, world.env()).send()
        assert world.fake.uploads == {line["name"]: 1}
    assert await states(pool) == {"sent": 1}
