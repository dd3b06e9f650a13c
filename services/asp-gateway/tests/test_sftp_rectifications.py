"""Rectifications over SFTP with the fake ASP (asp-exchange.md §8, §5.4, §9.2, §10): `send` uploads the
modification record of a paid PFMP edited upward, the fake integrates it by its ASP ids and pays the
difference; a lowered total (§8.2 block lifted) comes back as a recovery order. Each step runs the real
commands (`aplypro-asp-gateway send` / `poll`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_contracts import PaymentRequested
from aplypro_local.fake_asp import Behaviour
from aplypro_local.fake_asp.pickup import parse_records

from .conftest import feed, register, request
from .fake_asp_world import World, fake_asp
from .test_sftp_returns_and_send import gateway

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("logging_restored")]
# The fake ASP's clock on a Wednesday night: the weekday schedule is not what these tests look at.
WEDNESDAY = datetime(2026, 5, 20, 1, 30, tzinfo=UTC)


def clock() -> datetime:
    return WEDNESDAY



async def rectify(pool: asyncpg.Pool, first: PaymentRequested, amount_cents: int) -> uuid.UUID:
    """pfmp's PfmpRectified → the calculator's new total for the PFMP (`rectification=true`); the student's
    street line for the Indu address (§4.4)."""
    await pool.execute("UPDATE students SET address_lines = '{\"3 rue de Nantes\"}' WHERE student_id = $1",
                       first.student_id)
    event = first.model_copy(update={"payment_request_id": uuid.uuid4(), "event_id": uuid.uuid4(),
                                     "amount_cents": amount_cents, "day_count": 30, "rectification": True,
                                     "version": 2})
    await feed(pool, projection.on_payment_requested, event)
    return event.payment_request_id


class Exchange:
    """The gateway's commands against one fake ASP, on the test's schema."""

    def __init__(self, world: World, database_url: str, namespace: str, tmp_path: Path, **env: str) -> None:
        self.world, self.database_url, self.namespace, self.tmp_path = world, database_url, namespace, tmp_path
        self.env = world.env() | env

    async def send(self) -> list[dict[str, object]]:
        return await gateway("send", self.database_url, self.namespace, self.tmp_path, **self.env)

    async def poll(self) -> list[dict[str, object]]:
        return await gateway("poll", self.database_url, self.namespace, self.tmp_path, **self.env)


async def pfmp_rows(pool: asyncpg.Pool, pfmp_id: uuid.UUID) -> list[tuple[str, int | None, bool, str | None]]:
    rows = await pool.fetch("SELECT pr.state, pr.paid_cents, pr.recovery, fr.variant FROM payment_requests pr "
                            "LEFT JOIN file_records fr USING (payment_request_id) WHERE pr.pfmp_id = $1 "
                            "ORDER BY pr.record_id", pfmp_id)
    return [(r["state"], r["paid_cents"], r["recovery"], r["variant"]) for r in rows]


async def test_a_paid_pfmp_edited_upward_is_sent_as_a_modification_and_the_fake_asp_pays_the_difference(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated: a PFMP paid 300 €; the director edits it to 450 €; `send` uploads a modification record (the
    # ASP ids, the new total, never a second first payment); the fake ASP integrates it by its ids and pays
    # the 150 € difference; `poll` moves the request to `paid`: the PFMP's total paid is the new amount.
    first = request(*await register(pool, 0))
    await feed(pool, projection.on_payment_requested, first)
    async with fake_asp(tmp_path, Behaviour(remove_taken=False), clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await asp.send()
        await asp.poll()
        assert world.fake.emit_payments() is not None
        await asp.poll()
        assert await pfmp_rows(pool, first.pfmp_id) == [("paid", 30000, False, "first_payment")]

        await rectify(pool, first, 45000)
        [sent] = await asp.send()
        assert sent["records"] == 1
        [record] = parse_records((world.fake.upload_dir / str(sent["name"])).read_bytes())
        assert (record.modification, record.individual_known, record.dossier_known) == (True, True, True)
        assert record.amount_euros == 450  # the new total, never the difference (§8.1)
        answers = await asp.poll()
        assert {(a["kind"], a["applied"], a["unmatched"]) for a in answers} == {("integrations", 1, 0),
                                                                               ("rejects", 0, 0)}, answers
        complement = world.fake.emit_payments()
        assert complement is not None
        assert b"<MTNET>150.00</MTNET>" in (world.fake.return_dir / complement).read_bytes()
        [paid] = await asp.poll()
        assert (paid["kind"], paid["applied"], paid["unmatched"]) == ("payments", 1, 0)
        assert world.fake.violations == []
        assert set(world.fake.record_counts.values()) == {1}  # every idEnregistrement received once
    rows = await pfmp_rows(pool, first.pfmp_id)
    assert rows == [("paid", 30000, False, "first_payment"), ("paid", 15000, False, "rectification_up")]
    assert sum(r[1] or 0 for r in rows) == 45000


async def test_a_payment_return_for_a_request_rectified_meanwhile_pays_the_old_amount_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # §9.2, injected: the rectification arrives while the first request is integrated and not paid yet (its
    # payment return is still at the ASP). The return then pays the OLD amount to the OLD request; the
    # rectification waits (`awaiting_asp_payment`) and still goes out as a modification; the old return
    # delivered again pays nothing twice.
    behaviour = Behaviour(remove_taken=False)
    async with fake_asp(tmp_path, behaviour, clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        first = request(*await register(pool, 0))
        await feed(pool, projection.on_payment_requested, first)
        await asp.send()
        await asp.poll()
        rectified = await rectify(pool, first, 45000)
        assert await asp.send() == []  # nothing leaves: the ASP's paid total is not known
        assert await pool.fetchval("SELECT blocking_reasons FROM payment_requests WHERE payment_request_id = $1",
                                   rectified) == ["awaiting_asp_payment"]

        behaviour.faults.deliver_twice = True  # the payment return comes twice
        assert world.fake.emit_payments() is not None
        [paid] = await asp.poll()
        assert paid["applied"] == 1
        again = await asp.poll()  # the same bytes again: known at the fetch already, nothing ingested twice
        assert all(a["applied"] == 0 for a in again), again
        assert world.fake.files(world.fake.return_dir) == []
        behaviour.faults.deliver_twice = False
        assert await pfmp_rows(pool, first.pfmp_id) == [("paid", 30000, False, "first_payment"),
                                                        ("pending", None, False, None)]

        [sent] = await asp.send()  # woken by the payment: the modification of what the ASP paid
        [record] = parse_records((world.fake.upload_dir / str(sent["name"])).read_bytes())
        assert (record.modification, record.amount_euros) == (True, 450)
        await asp.poll()
        assert world.fake.emit_payments() is not None
        await asp.poll()
        assert world.fake.violations == []
        assert set(world.fake.record_counts.values()) == {1}
    rows = await pfmp_rows(pool, first.pfmp_id)
    assert rows == [("paid", 30000, False, "first_payment"), ("paid", 15000, False, "rectification_up")]
    assert await pool.fetchval("SELECT count(*) FROM file_records WHERE pfmp_id = $1 AND first_payment",
                               first.pfmp_id) == 1


async def test_a_lowered_total_comes_back_as_a_recovery_order_once_the_block_is_lifted(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # §8.2 lifted (APLYPRO_ASP_NEGATIVE_RECTIFICATION_BLOCKED=false): a PFMP paid 300 € rectified to 150 €
    # leaves as a modification; the fake ASP issues a recovery order (§5.4) for the 150 € overpaid (indu);
    # `poll` moves the request to `paid`, flagged as a recovery.
    first = request(*await register(pool, 0))
    await feed(pool, projection.on_payment_requested, first)
    async with fake_asp(tmp_path, clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path, APLYPRO_ASP_NEGATIVE_RECTIFICATION_BLOCKED="false")
        await asp.send()
        await asp.poll()
        world.fake.emit_payments()
        await asp.poll()
        await rectify(pool, first, 15000)
        [sent] = await asp.send()
        assert sent["records"] == 1
        await asp.poll()
        assert world.fake.emit_payments() is None  # nothing to pay: the total went down
        name = world.fake.emit_recovery_orders()
        assert name is not None
        assert name.startswith("renvoi_ordrereversement_APLYPROMOCK_")
        assert b"<MTDEMANDEOR>-150.00</MTDEMANDEOR>" in (world.fake.return_dir / name).read_bytes()
        [order] = await asp.poll()
        assert (order["kind"], order["applied"], order["unmatched"]) == ("recovery_orders", 1, 0)
        [status] = await gateway("status", database_url, namespace, tmp_path)
    assert status["records_sent"] == {"first_payment": 1, "rectification_down": 1}
    assert status["recoveries"] == {"count": 1, "claimed_cents": 15000}
    assert await pfmp_rows(pool, first.pfmp_id) == [("paid", 30000, False, "first_payment"),
                                                    ("paid", 15000, True, "rectification_down")]


def correction_file(records: list[asyncpg.Record]) -> bytes:
    """An address-correction file (§4.9) as an operator sends it: the PFMPs' latest requests with the three ASP
    ids, `modification="O"` on every level, no payment element (the address blocks are left out here)."""
    body = "".join(
        f'<ENREGISTREMENT idEnregistrement="{r["record_id"]}"><INDIVIDU idIndividu="{r["asp_individual_id"]}" '
        f'modification="O"><LISTEDOSSIER><DOSSIER idDoss="{r["asp_dossier_id"]}" modification="O">'
        f'<LISTEPRESTADOSS><PRESTADOSS idPrestaDoss="{r["asp_prestation_id"]}" modification="O"/></LISTEPRESTADOSS>'
        "</DOSSIER></LISTEDOSSIER></INDIVIDU></ENREGISTREMENT>" for r in records)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<FICHIER xmlns="http://www.cnasea.fr/fichier">'
            f"<ENREGISTREMENTS>{body}</ENREGISTREMENTS></FICHIER>\n").encode()


async def test_answers_to_a_correction_file_we_never_built_are_reported_and_move_no_request(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated (§4.9, §5.5): three PFMPs integrated; a correction file the gateway never built (written straight
    # into the drop folder) names them; the fake ASP answers it. `poll` matches correction answers by the name
    # of OUR correction file (test_sftp_address_corrections.py): each line is kept as `upload_unknown`, reported
    # among the unmatched lines and in `status`, and nothing moves.
    for n in range(3):
        await feed(pool, projection.on_payment_requested, request(*await register(pool, n)))
    async with fake_asp(tmp_path, Behaviour(correction_mismatch_rate=0.5, seed=4), clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await asp.send()
        await asp.poll()
        rows = await pool.fetch("SELECT record_id, asp_individual_id, asp_dossier_id, asp_prestation_id "
                                "FROM payment_requests ORDER BY record_id")
        states = await pool.fetch("SELECT payment_request_id, state, event_version FROM payment_requests")
        name = "nps_ficimport_correction_adresse_idp_aplypro_test_dev_20260521013000.xml"
        (world.fake.upload_dir / name).write_bytes(correction_file(list(rows)))
        world.fake.process_uploads()
        answered = await asp.poll()
        status = await gateway("status", database_url, namespace, tmp_path)
    assert {a["kind"] for a in answered} == {"correction_integrations", "correction_rejects"}
    found = await pool.fetch("SELECT record_id, outcome FROM address_correction_returns ORDER BY record_id")
    assert [(r["record_id"], r["outcome"]) for r in found] == [(x["record_id"], "upload_unknown") for x in rows]
    assert {r["why"] for r in await pool.fetch("SELECT why FROM unmatched_return_lines")} == {
        "correction_upload_unknown"}
    assert await pool.fetch("SELECT payment_request_id, state, event_version FROM payment_requests") == states
    [shown] = status
    assert shown["address_corrections"] == {"upload_unknown": 3}
