"""Ingesting the ASP's return files on the real PostgreSQL (asp-exchange.md §5, §9.2 G3/G4): requests sent in a
real payment file become integrated, rejected, paid or unpaid, once, with one PaymentRequestStateChanged v3
per move in the outbox; a file seen twice, a replayed payment, a truncated file and an unknown line change
nothing they should not."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import returns_repo
from aplypro_asp_gateway.adapters.returns import read_return_bytes
from aplypro_asp_gateway.domain.return_match import decide_payments
from aplypro_asp_gateway.entrypoints.cli import app
from aplypro_asp_gateway.entrypoints.service import build_spec
from aplypro_asp_gateway.service_layer.build import BuildOptions
from aplypro_servicekit.runtime import ServiceRuntime
from typer.testing import CliRunner

from .conftest import settings_for
from .ingest_world import (
    ingest,
    integrations,
    paid,
    payments,
    rejects,
    row_of,
    send_requests,
    state_events,
    states,
)
from .published import outbox_parts, partition_of
from .return_samples import payment

pytestmark = pytest.mark.integration

PAYMENTS = "renvoi_paiement_APLYPROTEST_20260605.xml"


async def test_integrations_then_payments_move_sent_requests_to_paid_with_their_net_amount(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, sent = await send_requests(pool, options, 3)

    # The ASP integrates the three records: `integrated`, its ids stored for later modification records.
    [answer] = await ingest(pool, options, integrations(upload, sent))
    assert (answer.outcome, answer.applied, answer.unmatched, answer.events) == ("ingested", 3, 0, 3)
    first = await row_of(pool, sent[0])
    assert (first["state"], first["asp_individual_id"], first["asp_dossier_id"], first["asp_prestation_id"],
            first["asp_prestation_numadm"]) == ("integrated", "1200000", "7600000", "9800000", "50000")

    # Days later: the first paid 300.00 €, the second's transfer failed (RJT), the third not in this run.
    [result] = await ingest(pool, options, payments(PAYMENTS, paid(sent[0]), payment(
        "INVALIDE", sent[1].prestation, code="RJT", label="Compte clos")))
    assert (result.applied, result.duplicates, result.unmatched, result.events) == (2, 0, 0, 2)
    first, second, third = [await row_of(pool, s) for s in sent]
    assert (first["state"], first["paid_cents"], first["paid_on"].isoformat(), first["recovery"]) == (
        "paid", 30000, "2026-06-05", False)
    assert (second["state"], second["return_reasons"], second["paid_cents"]) == ("unpaid", ["payment_difficulty"],
                                                                                 None)
    assert third["state"] == "integrated"

    # One event per move, in the gateway's own sequence per request (the build's `ready` was 1, PaymentRequestSent
    # 2), keyed by student.
    # A file's lines are applied in the requests' lock order (by id), not the file's: each file's moves as a set.
    events = await state_events(pool)
    moves = [(e.payment_request_id, e.state, e.version) for e in events]
    assert sorted(moves[:3]) == sorted((s.payment_request_id, "integrated", 3) for s in sent)
    assert sorted(moves[3:]) == sorted([(sent[0].payment_request_id, "paid", 4),
                                        (sent[1].payment_request_id, "unpaid", 4)])
    paid_event, unpaid_event = sorted(events[3:], key=lambda e: e.state != "paid")
    assert (paid_event.paid_amount, paid_event.recovery, paid_event.reasons) == (Decimal("300.00"), False, ())
    assert (unpaid_event.paid_amount, unpaid_event.reasons) == (None, ("payment_difficulty",))
    assert paid_event.schema_version == 3
    assert paid_event.rib_id == first["rib_id"] is not None  # the RIB frozen on it, on every state from `ready`
    assert paid_event.pfmp_id == sent[0].pfmp_id
    assert paid_event.correlation_id == first["correlation_id"]
    [paid_key] = [p.key for p in await outbox_parts(pool, "PaymentRequestStateChanged") if p.event.state == "paid"]
    # on the student's partition
    partitions = options.grouping.partitions
    assert partition_of(paid_key, partitions) == partition_of(first["student_id"], partitions)


async def test_rejects_move_sent_requests_to_rejected_with_every_mapped_reason_and_check_the_numadm(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, sent = await send_requests(pool, options, 3)
    da_number = sent[1].pfmp_number[:-2]
    [result] = await ingest(pool, options, rejects(
        upload,
        # The ASP refuses the first record twice (two entities), the second for its DA number (in Numadm)...
        f"{sent[0].record_id};Individu;;Le RIB FR76 3000 6000 est Invalide;",
        f"{sent[0].record_id};Dossier;;La coordonnée de paiement est invalide;",
        f"{sent[1].record_id};Dossier;{da_number};Le numéro administratif {da_number} n'est pas unique;",
        # ... and names the third with an administrative number that is not ours: not applied.
        f"{sent[2].record_id};Dossier;ENPUZZZZZZZZZZ20250;Motif inconnu de nous;"))
    assert (result.lines, result.applied, result.unmatched, result.events) == (4, 3, 1, 2)
    first, second, third = [await row_of(pool, s) for s in sent]
    assert (first["state"], first["return_reasons"]) == ("rejected", ["invalid_rib", "invalid_payment_coordinates"])
    assert (second["state"], second["return_reasons"]) == ("rejected", ["numadm_not_unique"])
    assert third["state"] == "sent"
    assert [dict(r) for r in await pool.fetch("SELECT line_no, kind, record_id, why FROM unmatched_return_lines")] == [
        {"line_no": 5, "kind": "rejects", "record_id": sent[2].record_id, "why": "numadm_mismatch"}]
    events = await state_events(pool)
    assert sorted((e.state, e.reasons) for e in events) == [  # in the requests' lock order: as a set
        ("rejected", ("invalid_rib", "invalid_payment_coordinates")), ("rejected", ("numadm_not_unique",))]
    # The ASP's free text (it may quote an IBAN) is nowhere in what the gateway keeps or sends.
    dump = json.dumps([dict(r) for r in await pool.fetch("SELECT * FROM unmatched_return_lines")], default=str)
    assert "FR76" not in dump
    assert all("FR76" not in e.model_dump_json() for e in events)


async def test_the_same_return_file_twice_changes_nothing_and_sends_no_event(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, sent = await send_requests(pool, options, 2)
    answer, pay = integrations(upload, sent), payments(PAYMENTS, paid(sent[0]), paid(sent[1], net="280.50"))
    await ingest(pool, options, answer, pay)
    before, events = await states(pool), await state_events(pool)
    assert len(events) == 4

    # The same two files delivered again, in the same poll: recognised by name and hash.
    again = await ingest(pool, options, pay, answer)
    assert [(r.file_name, r.outcome, r.applied, r.events) for r in again] == [
        (answer.name, "already_ingested", 0, 0), (pay.name, "already_ingested", 0, 0)]
    # The same payments under another day's name: every line a duplicate, nothing moved.
    [renamed] = await ingest(pool, options, payments("renvoi_paiement_APLYPROTEST_20260606.xml", paid(sent[0]),
                                                     paid(sent[1], net="280.50")))
    assert (renamed.outcome, renamed.duplicates, renamed.applied, renamed.unmatched) == ("ingested", 2, 0, 0)
    assert await states(pool) == before
    assert await state_events(pool) == events
    assert (await row_of(pool, sent[1]))["paid_cents"] == 28050


async def test_a_payment_replayed_after_a_rectification_never_pays_the_new_request(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, [first] = await send_requests(pool, options, 1)
    await ingest(pool, options, integrations(upload, [first]), payments(PAYMENTS, paid(first)))
    # The PFMP is rectified meanwhile: its new request went out as a modification of the same prestation
    # and is integrated (the builder of modification records is another part: the row is planted).
    old = await row_of(pool, first)
    rectified = await pool.fetchval(
        "INSERT INTO payment_requests (payment_request_id, pfmp_id, schooling_id, student_id, amount_cents, day_count,"
        " pfmp_rank, state, file_name, requested_event_id, correlation_id, requested_at, rectification,"
        " asp_individual_id, asp_dossier_id, asp_prestation_id) SELECT gen_random_uuid(), pfmp_id, schooling_id,"
        " student_id, 45000, 30, pfmp_rank, 'integrated', file_name, gen_random_uuid(), gen_random_uuid(), now(),"
        " true, asp_individual_id, asp_dossier_id, asp_prestation_id FROM payment_requests"
        " WHERE payment_request_id = $1 RETURNING payment_request_id", first.payment_request_id)
    events = await state_events(pool)

    # The first payment's line comes back in another file: it paid the first request, never the new one.
    [replay] = await ingest(pool, options, payments("renvoi_paiement_APLYPROTEST_20260612.xml", paid(first)))
    assert (replay.duplicates, replay.applied, replay.events) == (1, 0, 0)
    assert await pool.fetchval("SELECT state FROM payment_requests WHERE payment_request_id = $1",
                               rectified) == "integrated"
    assert await state_events(pool) == events
    assert await row_of(pool, first) == old

    # The complement the ASP pays for the rectification is a different answer: it pays the new request.
    [complement] = await ingest(pool, options, payments("renvoi_paiement_APLYPROTEST_20260619.xml",
                                                        paid(first, net="150.00", day="19/06/2026")))
    assert (complement.applied, complement.events) == (1, 1)
    assert await pool.fetchval("SELECT paid_cents FROM payment_requests WHERE payment_request_id = $1",
                               rectified) == 15000


async def test_the_same_payment_in_two_files_ingested_together_moves_the_request_once(
    pool: asyncpg.Pool, options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload, [first] = await send_requests(pool, options, 1)
    await ingest(pool, options, integrations(upload, [first]))
    # Two polls at once, each with a file carrying the same payment (a return delivered twice, renamed). Each
    # ingest, once it has decided, waits (up to 1 s) for the other to have decided too: without the ingest's
    # lock both would decide on the same `integrated` request, and only the UPDATE's guard would stop the second.
    real_move, arrived, both = returns_repo.move, [], asyncio.Event()

    async def move_once_both_decided(conn: Any, name: str, changes: Any) -> Any:
        arrived.append(name)
        if len(arrived) == 2:
            both.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both.wait(), 1.0)
        return await real_move(conn, name, changes)

    monkeypatch.setattr(returns_repo, "move", move_once_both_decided)
    results = await asyncio.gather(*(ingest(pool, options, payments(f"renvoi_paiement_APLYPROTEST_2026060{d}.xml",
                                                                    paid(first))) for d in (5, 6)))
    assert sorted((r.applied, r.duplicates, r.unmatched) for [r] in results) == [(0, 1, 0), (1, 0, 0)]
    assert [e.state for e in await state_events(pool)] == ["integrated", "paid"]
    assert (await row_of(pool, first))["event_version"] == 4


async def test_a_move_decided_on_a_request_that_moved_meanwhile_is_not_applied(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, [first] = await send_requests(pool, options, 1)
    await ingest(pool, options, integrations(upload, [first]))
    # Two deciders read the request `integrated` from the same snapshot and both decide to pay it.
    async with pool.acquire() as conn:
        views = await returns_repo.requests_of_prestations(conn, [first.prestation])
    line = read_return_bytes(PAYMENTS, payments(PAYMENTS, paid(first)).data).lines[0]
    [decided] = decide_payments([line], views)
    assert decided.change is not None
    async with pool.acquire() as conn:
        moved_first = await returns_repo.move(conn, PAYMENTS, [decided.change])
        moved_again = await returns_repo.move(conn, "renvoi_paiement_APLYPROTEST_20260606.xml", [decided.change])
    # Only from the state it was decided in: the second move finds the request paid and changes nothing.
    assert [r["event_version"] for r in moved_first] == [4]
    assert moved_again == []
    row = await row_of(pool, first)
    assert (row["state"], row["event_version"], row["answered_by_file"]) == ("paid", 4, PAYMENTS)


async def test_a_truncated_file_is_refused_whole_and_ingested_once_complete(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, sent = await send_requests(pool, options, 2)
    await ingest(pool, options, integrations(upload, sent))
    complete = payments(PAYMENTS, paid(sent[0]), paid(sent[1]))
    cut = type(complete)(complete.name, complete.data[: len(complete.data) - 40])
    before, events = await states(pool), await state_events(pool)

    [refused] = await ingest(pool, options, cut)
    assert (refused.outcome, refused.refused_code, refused.applied) == ("refused", "truncated", 0)
    assert refused.to_json()["refused"] == 1
    assert await states(pool) == before
    assert await state_events(pool) == events
    assert await pool.fetchval("SELECT count(*) FROM return_files WHERE file_name = $1", PAYMENTS) == 0

    # The complete file, same name, arrives at the next poll: read again, applied.
    [result] = await ingest(pool, options, complete)
    assert (result.outcome, result.applied) == ("ingested", 2)
    assert {(await row_of(pool, s))["state"] for s in sent} == {"paid"}


async def test_lines_that_match_nothing_are_kept_and_counted(pool: asyncpg.Pool, options: BuildOptions) -> None:
    upload, sent = await send_requests(pool, options, 2)
    # An answer naming a record of no file of ours; one naming a record of another upload; an unknown prestation.
    other_upload, [elsewhere] = await send_requests(pool, options, 1)
    [answer] = await ingest(pool, options, integrations(upload, sent, "999999;1;;2;DOSS;3;4;1",
                                                        f"{elsewhere.record_id};5;;6;DOSS;7;8;5"))
    pay_file = payments(PAYMENTS, paid(sent[0]), payment("PAYE", "1234567", net="10.00"),
                        payment("EN_COURS", sent[1].prestation))
    # A prestation no integration line gave, while a request still waits for its answer: the file waits one
    # poll (G4), whole, nothing applied.
    [deferred] = await ingest(pool, options, pay_file)
    assert (deferred.outcome, deferred.unmatched, deferred.applied) == ("deferred", 1, 0)
    assert (await row_of(pool, sent[0]))["state"] == "integrated"
    [pay] = await ingest(pool, options, pay_file)  # the next poll: ingested whatever
    assert pay.outcome == "ingested"
    assert (answer.applied, answer.unmatched, pay.applied, pay.unmatched) == (2, 2, 1, 2)
    assert answer.to_json()["matched"] == 2
    assert answer.to_json()["unmatched"] == 2
    kept = [(r["file_name"], r["record_id"], r["prestation_id"], r["why"]) for r in await pool.fetch(
        "SELECT * FROM unmatched_return_lines ORDER BY file_name, line_no")]
    assert kept == [
        (answer.file_name, 999999, "3", "record_not_in_file"),
        (answer.file_name, elsewhere.record_id, "7", "record_not_in_file"),
        (PAYMENTS, None, "1234567", "unknown_prestation"),
        (PAYMENTS, None, sent[1].prestation, "unknown_payment_state"),
    ]
    assert (await row_of(pool, elsewhere))["state"] == "sent"
    assert other_upload != upload
    counts = await pool.fetchrow("SELECT lines, applied, duplicates, unmatched FROM return_files WHERE file_name = $1",
                                 PAYMENTS)
    assert counts is not None
    assert dict(counts) == {"lines": 3, "applied": 1, "duplicates": 0, "unmatched": 2}


async def test_poll_ingests_the_return_folder_and_status_counts_requests_per_state(
    pool: asyncpg.Pool, options: BuildOptions, database_url: str, namespace: str, tmp_path: Path
) -> None:
    upload, sent = await send_requests(pool, options, 2)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # The payments return sorts before the answers by name: poll applies answers first all the same.
    for item in (integrations(upload, sent), payments(PAYMENTS, paid(sent[0]))):
        (inbox / item.name).write_bytes(item.data)
    # A second payments return still being written: cut short.
    (inbox / "renvoi_paiement_APLYPROTEST_20260606.xml").write_bytes(payments(PAYMENTS, paid(sent[1])).data[:90])
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_JSON": "false",
           "APLYPRO_ASP_INBOX_DIR": str(inbox)}

    done = await asyncio.to_thread(CliRunner().invoke, app, ["poll"], env=env)
    assert done.exit_code == 0, done.output
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(p["kind"], p["outcome"], p["matched"], p["unmatched"], p["refused"]) for p in printed] == [
        ("integrations", "ingested", 2, 0, 0), ("payments", "ingested", 1, 0, 0), (None, "refused", 0, 0, 1)]
    assert printed[2]["reason_code"] == "truncated"

    again = await asyncio.to_thread(CliRunner().invoke, app, ["poll"], env=env)
    assert [json.loads(line)["outcome"] for line in again.stdout.splitlines()] == [
        "already_ingested", "already_ingested", "refused"]
    status = await asyncio.to_thread(CliRunner().invoke, app, ["status"], env=env)
    shown = json.loads(status.stdout)
    assert shown["states"] == {"integrated": 1, "paid": 1}
    assert [f["file_name"] for f in shown["last_returns"]] == [PAYMENTS, integrations(upload, sent).name]


async def test_the_running_gateway_polls_its_return_folder_itself_when_given_an_interval(
    pool: asyncpg.Pool, options: BuildOptions, namespace: str, tmp_path: Path
) -> None:
    upload, sent = await send_requests(pool, options, 2)
    moves_before = len(await state_events(pool))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    spec = build_spec(settings_for(namespace, inbox_dir=inbox, poll_interval_s=0.1))
    [lane] = [task for task in spec.background if task.__name__ == "poll_asp_returns"]
    running = asyncio.ensure_future(lane(cast(ServiceRuntime, SimpleNamespace(pool=pool))))  # all a lane reads
    try:
        await asyncio.sleep(0.3)  # polls an empty folder: nothing happens
        assert [s["state"] for s in [await row_of(pool, r) for r in sent]] == ["sent", "sent"]
        item = integrations(upload, sent)
        (inbox / item.name).write_bytes(item.data)  # the ASP answers: the next poll applies it, once
        for _ in range(100):
            if [(await row_of(pool, r))["state"] for r in sent] == ["integrated", "integrated"]:
                break
            await asyncio.sleep(0.1)
        assert [(await row_of(pool, r))["state"] for r in sent] == ["integrated", "integrated"]
        await asyncio.sleep(0.3)  # polled again: the same file is known, no second move
        assert len(await state_events(pool)) == moves_before + 2
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_without_an_interval_the_running_gateway_leaves_polling_to_the_command(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path
) -> None:
    spec = build_spec(settings_for(namespace, inbox_dir=tmp_path))
    [lane] = [task for task in spec.background if task.__name__ == "poll_asp_returns"]
    await asyncio.wait_for(lane(cast(ServiceRuntime, SimpleNamespace(pool=pool))), 1)  # returns at once


async def test_a_failing_poll_is_tried_again_at_the_next_interval_not_at_once(
    pool: asyncpg.Pool, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aplypro_asp_gateway.entrypoints import poll as poll_module

    calls: list[float] = []

    async def failing(*_: object, **__: object) -> list[object]:
        calls.append(asyncio.get_running_loop().time())
        raise OSError("the ASP's server is down")

    monkeypatch.setattr(poll_module, "poll", failing)
    spec = build_spec(settings_for(namespace, inbox_dir=tmp_path, poll_interval_s=0.5))
    [lane] = [task for task in spec.background if task.__name__ == "poll_asp_returns"]
    running = asyncio.ensure_future(lane(cast(ServiceRuntime, SimpleNamespace(pool=pool))))
    try:
        await asyncio.sleep(1.2)
        assert not running.done()  # the lane goes on: a failed poll does not end it (nor restart it at once)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert 2 <= len(calls) <= 3
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(calls))
