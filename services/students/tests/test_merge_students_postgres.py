"""Merging two stored students who are one person (imports.md §5.8): the operator's `merge-students`.

Each test checks the state, the events written to the outbox (all keyed by the survivor) and what a later
import does. Two national INEs are merged only by this command (an import leaves a review item)."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from aplypro_contracts import (
    RibArchived,
    RibOnFile,
    RibRecorded,
    RibStatusChanged,
    SchoolingHiddenChanged,
    SchoolingOpened,
    StudentIdentityChanged,
    StudentsMerged,
)
from aplypro_contracts.topics import STUDENTS_RIBS
from aplypro_students.adapters.csv_ribs import read_ribs_csv
from aplypro_students.domain.merge import MergeRefused
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.hide_schooling import HideRefused, set_hidden
from aplypro_students.service_layer.merge_students import MergeReport, merge_students
from aplypro_students.service_layer.record_ribs import record_ribs
from typer.testing import CliRunner

from .conftest import UAI
from .test_reconciliation_rules_postgres import OTHER_UAI, Db, db, row

__all__ = ["db"]  # the fixture, shared with the reconciliation rules

pytestmark = pytest.mark.integration
A, B = "000111223AB", "000111224AC"  # two national INEs of one person
FIRST = "1ERE PRO MELEC;2473121132"
# B: a past schooling in another establishment (closed); A: the open one here
B_ROW = row(B, cls=FIRST, start="2025-09-01", end="2025-10-01")
A_ROW = row(A, start="2025-10-02")


async def ids(db: Db) -> dict[str, UUID]:
    return {r["ine"]: r["student_id"] for r in await db.pool.fetch("SELECT ine, student_id FROM students")}


async def merge(db: Db, survivor: UUID, merged: UUID, *, dry_run: bool = False) -> MergeReport:
    async with db.pool.acquire() as conn, conn.transaction():
        return await merge_students(conn, survivor, merged, by="u-42", topic=db.topic, dry_run=dry_run,
                                    ribs_topic=db.settings.topic(STUDENTS_RIBS))


async def outbox_keys(db: Db, mark: int) -> set[str]:
    return {bytes(r["key"]).decode() for r in await db.pool.fetch("SELECT key FROM outbox WHERE id > $1", mark)}


async def test_two_national_ines_are_merged_by_the_command_and_later_imports_land_on_the_survivor(db: Db) -> None:
    await db.load(B_ROW, uai=OTHER_UAI)
    await db.load(A_ROW)
    student = await ids(db)
    survivor, merged = student[A], student[B]
    assert await db.pool.fetchval("SELECT count(*) FROM review_items WHERE resolved_at IS NULL") == 1
    [b_schooling] = await db.pool.fetch("SELECT schooling_id, version FROM schoolings WHERE student_id = $1", merged)
    async with db.pool.acquire() as conn, conn.transaction():
        await record_ribs(conn, read_ribs_csv(db.write_csv(
            "uai;ine;titulaire;type_titulaire;iban;bic",
            f"{OTHER_UAI};{B};HADDAD Mehdi;eleve;FR7630006000011234567890189;AGRIFRPP"), uai=None).entries,
            topic=db.settings.topic(STUDENTS_RIBS), events_topic=db.topic)
    mark = await db.mark()
    state = (await db.students(), await db.schoolings())

    planned = await merge(db, survivor, merged, dry_run=True)  # what would move; nothing written
    assert (planned.schoolings_moved, planned.ribs_moved, planned.ine_taken) == (
        [b_schooling["schooling_id"]], planned.ribs_moved, False)
    assert len(planned.ribs_moved) == 1
    assert (await db.students(), await db.schoolings(), await db.mark()) == (*state, mark)

    report = await merge(db, survivor, merged)
    assert report.schoolings_moved == [b_schooling["schooling_id"]]
    assert report.review_items_resolved == 1
    events = await db.events_since(mark)
    assert [type(e) for e in events] == [StudentsMerged, SchoolingOpened, RibRecorded, RibOnFile, RibStatusChanged,
                                         RibStatusChanged]
    assert (events[0].survivor_id, events[0].merged_id, events[0].version) == (survivor, merged, 1)
    assert (events[1].schooling_id, events[1].student_id, events[1].version) == (
        b_schooling["schooling_id"], survivor, b_schooling["version"] + 1)
    assert (events[2].student_id, events[2].establishment_uai, events[2].version) == (survivor, OTHER_UAI, 1)
    # the survivor has the moved RIB now; the merged student has none any more (keyed by itself)
    assert [(e.student_id, e.establishment_uai, e.has_active_rib, e.rib_id, e.version) for e in events[4:]] == [
        (survivor, OTHER_UAI, True, events[2].rib_id, 1), (merged, OTHER_UAI, False, None, 2)]
    assert await outbox_keys(db, mark) == {str(survivor), str(merged)}
    tomb = await db.pool.fetchrow("SELECT merged_into, ine FROM students WHERE student_id = $1", merged)
    assert tomb is not None
    assert (tomb["merged_into"], tomb["ine"]) == (survivor, B)  # kept, never deleted
    audit = await db.pool.fetch("SELECT survivor_id, merged_id, merged_by, moved FROM student_merges")
    assert [(a["survivor_id"], a["merged_id"], a["merged_by"]) for a in audit] == [(survivor, merged, "u-42")]
    assert json.loads(audit[0]["moved"])["schoolings_moved"] == [str(b_schooling["schooling_id"])]
    assert await db.pool.fetchval("SELECT count(*) FROM review_items WHERE resolved_at IS NULL") == 0

    # later imports of the merged INE land on the survivor, which keeps its own INE; nothing changed: no event
    mark = await db.mark()
    again = await db.load(B_ROW, uai=OTHER_UAI)
    assert (again.new, again.changed, again.events) == (0, 0, 0)
    assert await db.events_since(mark) == []
    assert await ids(db) == {A: survivor, B: merged}
    assert await db.pool.fetchval("SELECT count(*) FROM schoolings WHERE student_id = $1", survivor) == 2
    # a full snapshot still listing the survivor under the merged INE: the survivor has not left
    await db.load(row(B, start="2025-10-02"), mode="full", share=1.0)
    assert [s["end_date"] for s in await db.schoolings() if s["uai"] == UAI] == [None]
    with pytest.raises(MergeRefused) as refused:  # once only
        await merge(db, survivor, merged)
    assert refused.value.code == "merge.already_merged"


async def test_a_placeholder_survivor_takes_the_real_ine_and_a_same_class_duplicate_is_folded(db: Db) -> None:
    await db.load(row(A))
    await db.load(row(B))  # the school typed the student twice, in the same class: both open
    student = await ids(db)
    await db.pool.execute("UPDATE students SET ine = '1234567A' WHERE ine = $1", A)  # a temporary INE
    survivor, merged = student[A], student[B]
    mark = await db.mark()
    report = await merge(db, survivor, merged)
    assert (report.ine_taken, report.schoolings_moved, len(report.schoolings_folded)) == (True, [], 1)
    events = await db.events_since(mark)
    assert [type(e) for e in events] == [StudentsMerged, StudentIdentityChanged, StudentIdentityChanged,
                                         SchoolingOpened, SchoolingHiddenChanged]
    # Each identity at its next version (a version 1 would be dropped as stale by every consumer).
    changed = {e.student_id: (e.identity.ine, e.version, e.changed) for e in events
               if isinstance(e, StudentIdentityChanged)}
    assert changed == {survivor: (B, 2, ("ine",)), merged: ("1234567A", 2, ("ine",))}
    assert (events[3].student_id, events[3].version, events[4].hidden) == (survivor, 2, True)
    assert await ids(db) == {B: survivor, "1234567A": merged}
    # the survivor keeps one open (non-hidden) schooling in the class; a re-import changes nothing
    open_rows = await db.pool.fetch("SELECT hidden_at IS NULL AS shown FROM schoolings WHERE student_id = $1 "
                                    "AND end_date IS NULL", survivor)
    assert sorted(r["shown"] for r in open_rows) == [False, True]
    await db.unchanged_on_reimport(row(B))  # the survivor's INE now
    [folded] = report.schoolings_folded
    with pytest.raises(HideRefused) as refused:  # staff cannot bring the duplicate back
        async with db.pool.acquire() as conn, conn.transaction():
            await set_hidden(conn, UAI, folded, False, by="u-1", topic=db.topic)
    assert refused.value.code == "schooling.merged_duplicate"


async def test_the_merged_students_active_rib_where_the_survivor_has_one_is_archived_with_its_event(db: Db) -> None:
    """Issue 13: RibArchived (ids only) for the RIB kept archived, so that no reader pays to it again."""
    await db.load(row(A))
    await db.load(row(B))
    student = await ids(db)
    survivor, merged = student[A], student[B]
    async with db.pool.acquire() as conn, conn.transaction():
        await record_ribs(conn, read_ribs_csv(db.write_csv(
            "uai;ine;titulaire;type_titulaire;iban;bic",
            f"{UAI};{A};HADDAD Mehdi;eleve;FR7630006000011234567890189;AGRIFRPP",
            f"{UAI};{B};HADDAD Mehdi;eleve;DE89370400440532013000;COBADEFFXXX"), uai=None).entries,
            topic=db.settings.topic(STUDENTS_RIBS), events_topic=db.topic)
    kept = await db.pool.fetchval("SELECT rib_id FROM ribs WHERE student_id = $1", survivor)
    gone = await db.pool.fetchval("SELECT rib_id FROM ribs WHERE student_id = $1", merged)
    mark = await db.mark()
    report = await merge(db, survivor, merged)
    assert (report.ribs_moved, report.ribs_archived) == ([], [gone])
    events = await db.events_since(mark)
    archived = [e for e in events if isinstance(e, RibArchived)]
    assert [(e.rib_id, e.student_id, e.establishment_uai, e.version) for e in archived] == [(gone, survivor, UAI, 2)]
    statuses = [e for e in events if isinstance(e, RibStatusChanged)]
    assert [(e.student_id, e.has_active_rib, e.version) for e in statuses] == [(merged, False, 2)]
    assert not [e for e in events if isinstance(e, RibRecorded)]  # the survivor's RIB stays current
    assert await db.pool.fetchval("SELECT rib_id FROM ribs WHERE archived_at IS NULL") == kept


async def test_a_merge_is_refused_without_personal_data_in_the_error(db: Db) -> None:
    await db.load(row(A))
    await db.load(row(B, name="MOREAU;Inès", born="2008-01-01;F;35238;99100", cls=FIRST, end="2025-10-01"),
                  uai=OTHER_UAI)
    await db.load(row("000111225AD", cls=FIRST, end="2025-10-01"), uai=OTHER_UAI)
    student = await ids(db)
    mark = await db.mark()
    cases = [((student[A], student[B]), "merge.not_same_person"),
             ((student["000111225AD"], student[A]), "merge.survivor_has_no_open_schooling"),
             ((student[A], student[A]), "merge.same_student")]
    for (survivor, merged), code in cases:
        with pytest.raises(MergeRefused) as refused:
            await merge(db, survivor, merged)
        assert refused.value.code == code
        for personal in ("MOREAU", "Inès", "HADDAD", "Mehdi", "2008", "2007", "35238", A, B):
            assert personal not in str(refused.value)
    assert await db.mark() == mark


def test_the_commands_list_review_items_and_merge_with_a_dry_run(cli: CliRunner, tmp_path: Path) -> None:
    from .conftest import DATA, HEADER

    assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
    assert cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]).exit_code == 0
    for n, line in enumerate([A_ROW, row(B, cls=FIRST, end="2025-10-01")]):
        path = tmp_path / f"s{n}.csv"
        path.write_text(f"{HEADER}\n{line}\n", encoding="utf-8")
        assert cli.invoke(app, ["import-csv", str(path), "--uai", UAI]).exit_code == 0
    listed = cli.invoke(app, ["review-items"])
    assert listed.exit_code == 0, listed.output
    [item] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert item["kind"] == "possible_duplicate"
    assert B not in listed.stdout
    assert "HADDAD" not in listed.stdout
    survivor, merged = item["other_student_id"], item["student_id"]  # the new student is the one with no open
    dry = cli.invoke(app, ["merge-students", survivor, merged, "--by", "u-42", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True
    assert len(json.loads(dry.stdout)["schoolings_moved"]) == 1
    assert cli.invoke(app, ["review-items"]).stdout.strip() != ""  # nothing written
    refused = cli.invoke(app, ["merge-students", merged, survivor, "--by", "u-42"])
    assert refused.exit_code == 2
    assert "merge.survivor_has_no_open_schooling" in refused.stderr
    done = cli.invoke(app, ["merge-students", survivor, merged, "--by", "u-42"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["events"] == 2
    assert cli.invoke(app, ["review-items"]).stdout.strip() == ""


async def test_a_file_listing_both_ines_after_the_merge_is_one_student_and_changes_nothing(db: Db) -> None:
    await db.load(B_ROW, uai=OTHER_UAI)
    await db.load(A_ROW)
    student = await ids(db)
    await merge(db, student[A], student[B])
    both = (A_ROW, row(B, start="2025-10-02"))  # the school still lists the student under each INE
    summary = await db.load(*both)
    assert (summary.new, summary.changed, summary.schoolings_written, summary.events) == (0, 0, 0, 0)
    await db.unchanged_on_reimport(*both)
