"""The gateway against the fake ASP's payment-file options (asp-exchange.md §10, payments): an unknown
ETATPAIEMENT, two IDPRESTADOSS in a record, a record twice, a prestation never issued, XML without namespace,
and one payment file a day (a second emission appended to it, or its name re-used once taken); the same faults
in recovery-order files, read apart by the gateway's reader. Every line is
applied once, or kept as unmatched with its reason; nothing is paid twice. Real PostgreSQL, the SFTP fake, the
`send` and `poll` commands."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.adapters.returns import read_return_bytes
from aplypro_asp_gateway.domain.return_lines import LineState
from aplypro_local.fake_asp import Behaviour, PaymentOptions
from aplypro_local.fake_asp.options import UNKNOWN_PRESTATION_ID
from aplypro_local.fake_asp.returns import (
    Integrated,
    RecoveryOrder,
    recovery_orders_name,
    recovery_orders_xml,
)
from aplypro_local.fake_asp.server import FakeAsp

from .fake_asp_options_world import (
    Exchange,
    events,
    exchange,
    record_ids,
    states,
    students_requesting,
    unmatched,
)
from .fake_asp_world import fake_asp

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("logging_restored")]


async def integrated(pool: asyncpg.Pool, run: Exchange, count: int) -> None:
    """`count` requests sent and integrated (one integration each)."""
    await students_requesting(pool, count)
    await run.send()
    await run.poll()
    assert await states(pool) == {"integrated": count}


async def paid_once(pool: asyncpg.Pool) -> None:
    """Every paid request was paid the amount it asked for, and moved by one event per step (integrated, paid)."""
    rows = await pool.fetch("SELECT state, paid_cents, amount_cents FROM payment_requests")
    paid = [r for r in rows if r["state"] == "paid"]
    assert all(r["paid_cents"] == r["amount_cents"] for r in paid)
    assert await events(pool) == len(rows) + len(paid)


async def pay_with(pool: asyncpg.Pool, fake: FakeAsp, run: Exchange, options: PaymentOptions) -> dict[str, object]:
    fake.behaviour.payments = options
    assert fake.emit_payments() is not None
    [result] = await run.poll()
    assert result["kind"] == "payments"
    return result


@pytest.mark.parametrize(("fault", "why"), [("unknown_state", "unknown_payment_state"),
                                            ("two_prestations", "several_prestations")])
async def test_a_payment_line_the_gateway_cannot_read_is_kept_unmatched_and_pays_nothing(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, fault: str, why: str
) -> None:
    async with fake_asp(tmp_path) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await integrated(pool, run, 2)
        result = await pay_with(pool, world.fake, run, PaymentOptions(unknown_state=fault == "unknown_state",
                                                                  two_prestations=fault == "two_prestations"))
    assert (result["lines"], result["applied"], result["unmatched"]) == (2, 1, 1)
    # The faulty line (the first record's) leaves its request integrated, waiting, and is kept with its reason.
    first = min(await record_ids(pool))
    assert await states(pool) == {"paid": 1, "integrated": 1}
    assert await pool.fetchval("SELECT fr.record_id FROM payment_requests pr JOIN file_records fr "
                               "USING (payment_request_id) WHERE pr.state = 'integrated'") == first
    assert await unmatched(pool) == [(None, why)]
    await paid_once(pool)


async def test_a_payment_line_written_twice_pays_its_request_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    async with fake_asp(tmp_path) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await integrated(pool, run, 2)
        result = await pay_with(pool, world.fake, run, PaymentOptions(repeat_record=True))
    assert (result["lines"], result["applied"], result["duplicates"], result["unmatched"]) == (3, 2, 1, 0)
    assert await states(pool) == {"paid": 2}
    await paid_once(pool)


async def test_a_payment_for_a_prestation_never_issued_is_kept_unmatched_beside_the_others_applied(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    async with fake_asp(tmp_path) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await integrated(pool, run, 2)
        # No request waits for an answer: the file is not deferred (G4), the stray line is reported at once.
        result = await pay_with(pool, world.fake, run, PaymentOptions(unknown_prestation=True))
    assert (result["outcome"], result["lines"], result["applied"], result["unmatched"]) == ("ingested", 3, 2, 1)
    assert await states(pool) == {"paid": 2}
    rows = await pool.fetch("SELECT prestation_id, why FROM unmatched_return_lines")
    assert [(r["prestation_id"], r["why"]) for r in rows] == [(UNKNOWN_PRESTATION_ID, "unknown_prestation")]
    await paid_once(pool)


async def test_a_payment_file_without_namespace_is_read_as_one_with(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    async with fake_asp(tmp_path) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await integrated(pool, run, 2)
        result = await pay_with(pool, world.fake, run, PaymentOptions(namespace=False))
    assert (result["applied"], result["unmatched"]) == (2, 0)
    assert await states(pool) == {"paid": 2}
    await paid_once(pool)


async def test_a_second_emission_the_same_day_appends_to_the_file_still_in_the_read_folder(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    async with fake_asp(tmp_path, Behaviour(payments=PaymentOptions(naming="same_day"))) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await integrated(pool, run, 2)
        first, second = await record_ids(pool)
        name = world.fake.emit_payments(only={first})
        assert world.fake.emit_payments(only={second}) == name  # one file a day: appended
        [result] = await run.poll()
    assert (result["file"], result["lines"], result["applied"]) == (name, 2, 2)
    assert await states(pool) == {"paid": 2}
    await paid_once(pool)


async def test_the_days_payment_file_name_re_used_with_new_content_pays_only_the_new_lines(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    async with fake_asp(tmp_path, Behaviour(payments=PaymentOptions(naming="same_day"))) as world:
        run = exchange(database_url, namespace, tmp_path, world.env())
        await integrated(pool, run, 2)
        first, second = await record_ids(pool)
        name = world.fake.emit_payments(only={first})
        [one] = await run.poll()  # taken: the name is free again
        assert world.fake.emit_payments(only={second}) == name  # same name, other bytes (G3)
        [two] = await run.poll()
    assert [(r["file"], r["applied"]) for r in (one, two)] == [(name, 1), (name, 1)]
    assert await pool.fetchval("SELECT count(*) FROM fetched_returns WHERE file_name = $1", name) == 2
    assert await states(pool) == {"paid": 2}
    await paid_once(pool)


def test_recovery_order_files_carry_the_same_faults_and_the_reader_keeps_each_apart() -> None:
    # §10 "Options: unknown ETATPAIEMENT, unknown prestation, two IDPRESTADOSS in a record, a record twice, XML
    # without namespace", on recovery-order returns (§5.4) too: each fault on the first order, the second plain.
    orders = [RecoveryOrder(Integrated(n, "1234567", "7654321", "NUM", str(9870000 + n), "51234", 300), 150, True)
              for n in (1, 2)]
    name = recovery_orders_name("APLYPROMOCK", date(2026, 6, 12))

    def lines(options: PaymentOptions) -> list[tuple[LineState, tuple[str, ...]]]:
        read = read_return_bytes(name, recovery_orders_xml(orders, date(2026, 6, 12), options))
        return [(line.state, line.prestation_ids) for line in read.lines]

    plain = [(LineState.RECOVERY, ("9870001",)), (LineState.RECOVERY, ("9870002",))]
    assert lines(PaymentOptions()) == plain
    assert lines(PaymentOptions(namespace=False)) == plain
    assert lines(PaymentOptions(repeat_record=True)) == [plain[0], *plain]
    assert lines(PaymentOptions(unknown_prestation=True)) == [*plain, (LineState.RECOVERY, (UNKNOWN_PRESTATION_ID,))]
    assert lines(PaymentOptions(unknown_state=True))[0][0] is LineState.INVALID
    two = lines(PaymentOptions(two_prestations=True))[0]
    assert two[1] == ("9870001", UNKNOWN_PRESTATION_ID)
