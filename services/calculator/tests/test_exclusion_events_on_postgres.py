"""An exclusion set in the students service reaches the calculator as ExclusionChanged (calculation.md §4): the
pools it reaches are repriced with the batch, an older change is dropped, and what it covers is not paid."""

from __future__ import annotations

from datetime import date

import pytest
from aplypro_contracts import ExclusionChanged, PfmpValidated

from .calculator_world import OTHER_UAI, PREMIERE, TERMINALE, UAI, Calc

pytestmark = pytest.mark.integration


def change(excluded: bool, version: int, *, uai: str = UAI, mef: str | None = None,
           year: int | None = None) -> ExclusionChanged:
    return ExclusionChanged(producer="students", uai=uai, mef_code=mef, school_year=year, excluded=excluded,
                            version=version)


async def rows(calc: Calc) -> set[tuple[str, str | None, int | None]]:
    return {(r["uai"], r["mef_code"], r["school_year"])
            for r in await calc.db.fetch("SELECT uai, mef_code, school_year FROM exclusions")}


async def test_an_exclusion_from_the_students_service_blocks_the_payment_until_it_is_lifted(calc: Calc) -> None:
    schooling = await calc.schooling(mef=TERMINALE)
    other = await calc.schooling(mef=TERMINALE, uai=OTHER_UAI)

    # Read in the same batch as the validation: the validated PFMP never gets a ready request.
    recorded = await calc.record(calc.pfmp(schooling, 10))
    assert await calc.amount(recorded.pfmp_id) == 200
    mark = await calc.mark()
    pfmp = PfmpValidated(producer="pfmp", pfmp=recorded.model_copy(
        update={"status": "validated", "version": calc.next_version()}))
    await calc.feed(change(True, 1), pfmp)
    assert await rows(calc) == {(UAI, None, None)}
    assert await calc.amount(pfmp.pfmp.pfmp_id) is None
    assert [e.pfmp_id for e in await calc.events(mark, "PaymentRequested")] == []
    paid_elsewhere = await calc.validate(calc.pfmp(other, 10))  # another establishment: untouched
    assert [r["state"] for r in await calc.requests(paid_elsewhere.pfmp_id)] == ["ready"]

    # Lifted (version 2), then the addition read again (a redelivery, version 1): stale, dropped.
    await calc.feed(change(False, 2), change(True, 1))
    assert await rows(calc) == set()
    assert await calc.amount(pfmp.pfmp.pfmp_id) == 200
    [requested] = [e for e in await calc.events(mark, "PaymentRequested") if e.pfmp_id == pfmp.pfmp.pfmp_id]
    assert requested.amount_cents == 20000
    stale = await calc.db.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'ExclusionChanged'")
    assert stale == 1


async def test_a_mef_row_reaches_only_its_mef_and_year_and_one_under_a_whole_establishment_changes_nothing(
        calc: Calc) -> None:
    terminale = await calc.schooling(mef=TERMINALE)
    premiere = await calc.schooling(mef=PREMIERE)
    t = await calc.record(calc.pfmp(terminale, 10, start=date(2025, 9, 8)))
    p = await calc.record(calc.pfmp(premiere, 10, start=date(2025, 9, 8)))

    await calc.feed(change(True, 1, mef=PREMIERE.code, year=2025), change(True, 2, mef=TERMINALE.code, year=2024))
    assert (await calc.amount(t.pfmp_id), await calc.amount(p.pfmp_id)) == (200, None)

    # A whole-establishment row then a MEF row under it (its own version sequence): covered already, no error.
    await calc.feed(change(True, 3), change(True, 4, mef=TERMINALE.code))
    assert await rows(calc) == {(UAI, PREMIERE.code, 2025), (UAI, TERMINALE.code, 2024), (UAI, None, None)}
    assert (await calc.amount(t.pfmp_id), await calc.amount(p.pfmp_id)) == (None, None)
