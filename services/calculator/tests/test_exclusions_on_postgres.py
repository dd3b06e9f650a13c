"""Exclusions (calculation.md §4) reprice the pools they reach, on the real PostgreSQL and through the CLI."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from aplypro_calculator.domain.exclusions import ExclusionConflict, ExclusionRow
from aplypro_calculator.entrypoints.cli import app
from aplypro_calculator.service_layer import operations
from typer.testing import CliRunner

from .calculator_world import OTHER_UAI, PREMIERE, TERMINALE, UAI, Calc

pytestmark = pytest.mark.integration

SEPT, OCT = date(2025, 9, 8), date(2025, 10, 6)


async def exclude(calc: Calc, row: ExclusionRow, *, add: bool = True) -> operations.Repriced:
    change = operations.add_exclusion if add else operations.remove_exclusion
    async with calc.db.acquire() as conn, conn.transaction():
        return await change(conn, calc.handlers, row)


async def test_an_excluded_schooling_holds_nothing_and_lifting_the_exclusion_prices_it_again(calc: Calc) -> None:
    # One pool across two establishments (same student, MEF and year): cap 1,000 €.
    first = await calc.schooling(uai=UAI)
    second = await calc.schooling(uai=OTHER_UAI, student_id=first.student_id)
    await calc.feed(calc.decision(first, "abrogation"))  # the student moved: the first DA is abrogated
    a = await calc.record(calc.pfmp(first, 40, start=SEPT))  # 800 €
    b = await calc.record(calc.pfmp(second, 30, start=OCT))  # 200 € left
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (800, 200)

    mark = await calc.mark()
    result = await exclude(calc, ExclusionRow.of(UAI))
    assert (result.changed, result.pools) == (True, 1)
    # A holds nothing; B takes the freed cap. Both changes are published.
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (None, 600)
    assert {(e.pfmp_id, e.amount_cents) for e in await calc.events(mark, "AmountComputed")} == {
        (a.pfmp_id, None), (b.pfmp_id, 60000)}

    # Validated while excluded: no request.
    a = await calc.validate(a)
    assert await calc.requests(a.pfmp_id) == []

    # Lifted: A is priced again (chronological order) and gets its request (D10).
    await exclude(calc, ExclusionRow.of(UAI), add=False)
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (800, 200)
    [request] = await calc.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 80000)


async def test_a_committed_amount_stays_and_an_open_request_is_blocked_with_excluded_schooling(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    committed = await calc.validate(calc.pfmp(schooling, 10, start=SEPT, length=20))  # ready, 150 €
    paid = await calc.validate(calc.pfmp(schooling, 3, start=OCT))
    await calc.pay(paid)
    await calc.feed(calc.rectified(paid, 0, by="system"))  # a parked recovery: an open request

    mark = await calc.mark()
    await exclude(calc, ExclusionRow.of(UAI, PREMIERE.code, 2025))
    assert await calc.amount(committed.pfmp_id) == 150  # money handed to ASP stays as it is
    assert [r["state"] for r in await calc.requests(committed.pfmp_id)] == ["ready"]
    parked = (await calc.requests(paid.pfmp_id))[-1]
    assert parked["state"] == "incomplete"
    assert "excluded_schooling" in parked["reasons"]
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert ("excluded_schooling" in blocked.reasons, blocked.parked) == (True, False)


async def test_an_exclusion_of_another_year_or_mef_reaches_nothing(calc: Calc) -> None:
    schooling = await calc.schooling(mef=TERMINALE)
    pfmp = await calc.record(calc.pfmp(schooling, 10))
    assert (await exclude(calc, ExclusionRow.of(UAI, PREMIERE.code))).pools == 0
    assert (await exclude(calc, ExclusionRow.of(UAI, school_year=2024))).pools == 0
    assert await calc.amount(pfmp.pfmp_id) == 200
    # The same row twice changes nothing; a MEF row under a whole-establishment row is refused.
    assert (await exclude(calc, ExclusionRow.of(UAI, school_year=2024))).changed is False
    await exclude(calc, ExclusionRow.of(OTHER_UAI))
    with pytest.raises(ExclusionConflict):
        await exclude(calc, ExclusionRow.of(OTHER_UAI, PREMIERE.code))


async def test_the_exclusions_commands_add_list_and_remove_rows(calc: Calc, cli_env: dict[str, str]) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.record(calc.pfmp(schooling, 10))
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["exclusions", *args], env=cli_env)
        return result.exit_code, result.output

    # The CLI runs its own event loop: off this test's loop, in a thread.
    code, out = await asyncio.to_thread(cli, "add", UAI.lower(), "--mef", TERMINALE.code, "--school-year", "2025")
    assert code == 0, out
    assert f"added: {UAI} MEF {TERMINALE.code} school year 2025; pools repriced: 1" in out
    assert await calc.amount(pfmp.pfmp_id) is None

    code, out = await asyncio.to_thread(cli, "list")
    assert (code, out.splitlines()) == (0, ["uai,mef,school_year,schoolings", f"{UAI},{TERMINALE.code},2025,1"])

    code, out = await asyncio.to_thread(cli, "add", UAI)  # whole establishment; the MEF row stays
    assert code == 0, out
    code, out = await asyncio.to_thread(cli, "add", UAI, "--mef", "2473121132")
    assert code == 1
    assert "refused" in out

    code, out = await asyncio.to_thread(cli, "remove", UAI, "--mef", TERMINALE.code, "--school-year", "2025")
    assert code == 0, out
    code, out = await asyncio.to_thread(cli, "remove", UAI)
    assert code == 0, out
    assert await calc.amount(pfmp.pfmp_id) == 200
    code, out = await asyncio.to_thread(cli, "remove", UAI)
    assert code == 1
