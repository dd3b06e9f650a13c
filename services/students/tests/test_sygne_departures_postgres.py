"""SYGNE lists as full snapshots (imports.md §5.6) against the fake SYGNE and the real PostgreSQL: a student
no longer listed leaves, a listed student whose row is refused does not, an empty list closes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from aplypro_local.fake_sygne import FakeSygneServer
from aplypro_students.domain.departures import MassDeparture

from .conftest import UAI
from .test_sygne_import_postgres import Db, db, fake, run

pytestmark = pytest.mark.integration
__all__ = ["db", "fake"]  # fixtures shared with test_sygne_import_postgres
TODAY = date(2025, 10, 15)
CHLOE, MEHDI = "000111222AA", "000111223AB"


def unlist(fake: FakeSygneServer, ine: str) -> None:
    key = (UAI, 2025)
    fake.state.lists[key] = [e for e in fake.state.lists[key] if e.get("ine") != ine]


async def open_ines(db: Db) -> set[str]:
    rows = await db.rows("SELECT st.ine FROM schoolings s JOIN students st USING (student_id) "
                         "WHERE s.end_date IS NULL")
    return {r["ine"] for r in rows}


async def test_a_student_no_longer_listed_leaves_on_the_snapshot_date(db: Db, fake: FakeSygneServer) -> None:
    await run(db, fake)
    before = await open_ines(db)
    unlist(fake, CHLOE)  # one of the five open schoolings: 20 %, not over the guard
    report = await run(db, fake, mode="full")
    assert (report.summary["departures"], await open_ines(db)) == (1, before - {CHLOE})
    assert (await db.schoolings())[CHLOE][0][4:] == (TODAY, True)  # end date, inferred
    assert (await run(db, fake, mode="full")).summary["events"] == 0  # the same snapshot again: nothing


async def test_a_listed_student_whose_row_is_refused_has_not_left(db: Db, fake: FakeSygneServer) -> None:
    await run(db, fake)
    for entry in fake.state.lists[UAI, 2025]:
        if entry["ine"] == MEHDI:
            entry["dateNaissance"] = "2007-13-45"
    report = await run(db, fake, mode="full")
    assert ("000111223AB", "date_naissance.format") in {(e.get("ine"), e["reason"]) for e in report.skipped}
    assert report.summary["departures"] == 0
    assert MEHDI in await open_ines(db)


async def test_an_empty_list_closes_nothing(db: Db, fake: FakeSygneServer) -> None:
    await run(db, fake)
    before = await open_ines(db)
    fake.state.lists[UAI, 2025] = []  # an outage answering 200 with nothing
    with pytest.raises(MassDeparture) as refused:
        await run(db, fake, mode="full")
    assert refused.value.empty
    assert await open_ines(db) == before
