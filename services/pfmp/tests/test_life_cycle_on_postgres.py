"""PFMP life cycle (issue 10, lifecycles.md §1) on the real PostgreSQL: edit, delete and rectify guarded by
the latest payment request, validation guarded by the DA and the RIB, each action in the audit trail.

The payment-request and DA facts go through the service's own handlers (service_layer.facts).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from aplypro_contracts import (
    DocumentIssued,
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    PaymentRequestStateChanged,
    PfmpRecorded,
    PfmpRectified,
    PfmpValidated,
    RibOnFile,
    RibStatusChanged,
    SchoolingChanged,
    SchoolingOpened,
    StudentRegistered,
    default_registry,
)
from aplypro_pfmp.adapters import decision_content_sql
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer import facts, projection
from aplypro_pfmp.service_layer.lifecycle import EditPfmp, delete_pfmp, edit_pfmp
from aplypro_pfmp.service_layer.use_cases import RecordPfmp, record_pfmp
from aplypro_pfmp.service_layer.validation import validate_establishment, validate_pfmps
from aplypro_servicekit.db import create_pool, migrate

pytestmark = pytest.mark.integration
UAI = "0999001K"
INES = ("000111223AB", "000111224AB")
TODAY = date(2026, 1, 5)
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ")


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """Two students of one class, each with one schooling."""
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
    async with pool.acquire() as conn, conn.transaction():
        for ine in INES:
            student_id = uuid.uuid4()
            identity = Identity(ine=ine, last_name="HADDAD", first_names=("Mehdi",), birth_date=date(2007, 11, 2))
            await projection.on_student_registered(conn, StudentRegistered(
                producer="students", version=1, student_id=student_id, identity=identity))
            await projection.on_schooling_opened(conn, SchoolingOpened(
                producer="students", schooling_id=uuid.uuid4(), student_id=student_id,
                establishment=Establishment(uai=UAI, name="LP test"), class_label="TLE PRO", school_year=2025,
                mef=MEF, start_date=date(2025, 9, 1), version=1))
    yield pool
    await pool.close()


async def record(pool: asyncpg.Pool, start: date, end: date, days: int | None, ine: str = INES[0]) -> uuid.UUID:
    async with pool.acquire() as conn, conn.transaction():
        return (await record_pfmp(conn, RecordPfmp(ine, UAI, 2025, start, end, days), topic="t")).pfmp.pfmp_id


async def issue_da(pool: asyncpg.Pool, pfmp_id: uuid.UUID, kind: str = "attribution") -> None:
    row = await pool.fetchrow("SELECT schooling_id, student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    async with pool.acquire() as conn, conn.transaction():
        await facts.on_document(conn, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind=kind, schooling_id=row["schooling_id"],
            student_id=row["student_id"], number="D-1", version=1, storage_ref="x", sha256="0" * 64, size_bytes=1))


async def validate(pool: asyncpg.Pool, *pfmp_ids: uuid.UUID, require_rib: bool = False,
                   commit: bool = True) -> list[str]:
    """The refusal codes (empty: validated); `commit=False` only asks (rolled back)."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            report = await validate_pfmps(conn, list(pfmp_ids), "director-1", today=TODAY, topic="t",
                                          require_rib=require_rib)
        except BaseException:
            await transaction.rollback()
            raise
        await (transaction.commit() if commit else transaction.rollback())
    return [r.code for r in report.refused]


async def request_state(pool: asyncpg.Pool, pfmp_id: uuid.UUID, state: str, version: int,
                        request_id: uuid.UUID | None = None) -> uuid.UUID:
    """The calculator creates a request (if new), then the gateway moves it to `state`."""
    row = await pool.fetchrow("SELECT schooling_id, student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    async with pool.acquire() as conn, conn.transaction():
        if request_id is None:
            request_id = uuid.uuid4()
            await facts.on_payment_requested(conn, PaymentRequested(
                producer="calculator", payment_request_id=request_id, pfmp_id=pfmp_id,
                schooling_id=row["schooling_id"], student_id=row["student_id"], amount_cents=15000, day_count=10,
                pfmp_rank=1, version=1))
        if state != "pending":
            await facts.on_payment_state_changed(conn, PaymentRequestStateChanged(
                producer="asp-gateway", payment_request_id=request_id, pfmp_id=pfmp_id,
                student_id=row["student_id"], state=state, version=version))
    return request_id


async def validated_pfmp(pool: asyncpg.Pool) -> uuid.UUID:
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    await issue_da(pool, pfmp_id)
    assert await validate(pool, pfmp_id) == []
    return pfmp_id


async def edit(pool: asyncpg.Pool, command: EditPfmp) -> str | None:
    async with pool.acquire() as conn, conn.transaction():
        return (await edit_pfmp(conn, command, topic="t")).path


async def delete(pool: asyncpg.Pool, pfmp_id: uuid.UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await delete_pfmp(conn, pfmp_id, "staff-7", topic="t")


async def events(pool: asyncpg.Pool) -> list[tuple[str, int, str, bool]]:
    """(event type, PFMP version, status, deleted) of every PFMP event written, in order."""
    registry = default_registry()
    payloads = await pool.fetchval("SELECT array_agg(payload ORDER BY id) FROM outbox") or []
    return [(e.event_type, e.pfmp.version, e.pfmp.status, e.pfmp.deleted) for e in map(registry.parse, payloads)
            if isinstance(e, PfmpRecorded | PfmpValidated | PfmpRectified)]


async def test_an_edit_moves_dates_and_day_count_and_is_audited(pool: asyncpg.Pool) -> None:
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), None)
    assert await edit(pool, EditPfmp(pfmp_id, "staff-7", start_date=date(2025, 11, 10), day_count=9)) == "plain"
    row = await pool.fetchrow("SELECT start_date, day_count, status, version FROM pfmps")
    assert row is not None
    assert dict(row) == {"start_date": date(2025, 11, 10), "day_count": 9, "status": "completed", "version": 2}
    assert (await events(pool))[-1] == ("PfmpRecorded", 2, "completed", False)
    audit = await pool.fetch("SELECT user_id, action, pfmp_id, pfmp_version FROM pfmp_actions")
    assert [tuple(r) for r in audit] == [("staff-7", "edit", pfmp_id, 2)]


async def test_an_edit_onto_another_pfmp_of_the_student_is_refused_as_an_overlap(pool: asyncpg.Pool) -> None:
    await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    spring = await record(pool, date(2026, 3, 2), date(2026, 3, 13), 8)
    with pytest.raises(PfmpError) as refused:
        await edit(pool, EditPfmp(spring, "staff-7", start_date=date(2025, 11, 20)))
    assert refused.value.code == "pfmp_overlaps"
    with pytest.raises(PfmpError) as same:
        await edit(pool, EditPfmp(spring, "staff-7", start_date=date(2025, 11, 3), end_date=date(2025, 11, 21)))
    assert same.value.code in {"pfmp_same_period", "pfmp_overlaps"}
    assert await pool.fetchval("SELECT count(*) FROM pfmp_actions") == 0


async def test_the_overlap_trigger_still_holds_for_an_edit_that_skips_the_service(pool: asyncpg.Pool) -> None:
    autumn = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    await record(pool, date(2026, 3, 2), date(2026, 3, 13), 8)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute("UPDATE pfmps SET end_date = '2026-03-05' WHERE pfmp_id = $1", autumn)


@pytest.mark.parametrize("state", ["ready", "sent", "integrated"])
async def test_a_pfmp_whose_request_is_with_the_asp_can_be_neither_edited_nor_deleted(
    pool: asyncpg.Pool, state: str,
) -> None:
    pfmp_id = await validated_pfmp(pool)
    await request_state(pool, pfmp_id, state, version=2)
    for action in (edit(pool, EditPfmp(pfmp_id, "staff-7", day_count=5)), delete(pool, pfmp_id)):
        with pytest.raises(PfmpError) as refused:
            await action
        assert refused.value.code == "pfmp_payment_ongoing"
    assert await pool.fetchval("SELECT (day_count, deleted, version)::text FROM pfmps") == "(12,f,2)"


async def test_a_validated_pfmp_whose_request_is_pending_is_edited_and_can_be_deleted(pool: asyncpg.Pool) -> None:
    pfmp_id = await validated_pfmp(pool)
    await request_state(pool, pfmp_id, "pending", version=1)
    assert await edit(pool, EditPfmp(pfmp_id, "staff-7", day_count=10)) == "plain"
    with pytest.raises(PfmpError) as cleared:  # never back to pending once validated
        await edit(pool, EditPfmp(pfmp_id, "staff-7", clear_day_count=True))
    assert cleared.value.code == "pfmp_validated"
    await delete(pool, pfmp_id)
    assert (await events(pool))[-2:] == [("PfmpRecorded", 3, "validated", False),
                                         ("PfmpRecorded", 4, "validated", True)]


async def test_a_pfmp_the_asp_integrated_is_never_deleted_even_after_a_rejection(pool: asyncpg.Pool) -> None:
    pfmp_id = await validated_pfmp(pool)
    request = await request_state(pool, pfmp_id, "integrated", version=2)
    await request_state(pool, pfmp_id, "rejected", version=3, request_id=request)
    assert await edit(pool, EditPfmp(pfmp_id, "staff-7", day_count=11)) == "plain"  # rejected: editable
    with pytest.raises(PfmpError) as refused:
        await delete(pool, pfmp_id)
    assert refused.value.code == "pfmp_known_to_asp"


async def test_an_unpaid_pfmp_is_edited_but_not_deleted(pool: asyncpg.Pool) -> None:
    pfmp_id = await validated_pfmp(pool)
    await request_state(pool, pfmp_id, "unpaid", version=2)
    assert await edit(pool, EditPfmp(pfmp_id, "staff-7", day_count=11)) == "plain"
    with pytest.raises(PfmpError) as refused:
        await delete(pool, pfmp_id)
    assert refused.value.code == "pfmp_known_to_asp"


async def test_an_edit_of_a_paid_pfmp_is_a_rectification_and_again_until_its_new_request_is_committed(
    pool: asyncpg.Pool,
) -> None:
    pfmp_id = await validated_pfmp(pool)
    await request_state(pool, pfmp_id, "paid", version=4)
    assert await edit(pool, EditPfmp(pfmp_id, "director-1", day_count=0)) == "rectification"  # a full recovery
    await request_state(pool, pfmp_id, "pending", version=1)  # the calculator's new request
    assert await edit(pool, EditPfmp(pfmp_id, "director-1", day_count=3)) == "rectification"
    assert (await events(pool))[-2:] == [("PfmpRectified", 3, "rectified", False),
                                         ("PfmpRectified", 4, "rectified", False)]
    assert [r["action"] for r in await pool.fetch("SELECT action FROM pfmp_actions ORDER BY id")] == [
        "validate", "rectify", "rectify"]


async def test_an_older_gateway_event_never_unlocks_a_pfmp(pool: asyncpg.Pool) -> None:
    pfmp_id = await validated_pfmp(pool)
    request = await request_state(pool, pfmp_id, "sent", version=3)
    await request_state(pool, pfmp_id, "rejected", version=2, request_id=request)  # older, read late
    with pytest.raises(PfmpError) as refused:
        await delete(pool, pfmp_id)
    assert refused.value.code == "pfmp_payment_ongoing"
    assert await pool.fetchval(
        "SELECT dropped FROM stale_events WHERE event_type = 'PaymentRequestStateChanged'") == 1


async def test_the_latest_request_decides_when_a_pfmp_has_several(pool: asyncpg.Pool) -> None:
    pfmp_id = await validated_pfmp(pool)
    first = await request_state(pool, pfmp_id, "rejected", version=2)
    row = await pool.fetchrow("SELECT requested_at FROM payment_requests WHERE payment_request_id = $1", first)
    assert row is not None
    await pool.execute("UPDATE payment_requests SET requested_at = $1", datetime.now(UTC) - timedelta(hours=1))
    await request_state(pool, pfmp_id, "sent", version=2)  # the retry, newer
    with pytest.raises(PfmpError) as refused:
        await edit(pool, EditPfmp(pfmp_id, "staff-7", day_count=5))
    assert refused.value.code == "pfmp_payment_ongoing"


async def test_validation_refuses_a_pfmp_without_da_or_with_a_withdrawn_one(pool: asyncpg.Pool) -> None:
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    assert await validate(pool, pfmp_id) == ["missing_attributive_decision"]
    await issue_da(pool, pfmp_id, "attribution")
    await issue_da(pool, pfmp_id, "retrait")
    assert await validate(pool, pfmp_id) == ["missing_attributive_decision"]
    assert await pool.fetchval("SELECT status FROM pfmps") == "completed"


def da_events(row: asyncpg.Record, at: datetime) -> tuple[DocumentIssued, DocumentReady]:
    """One DA as documents announces it: issued (number and content fixed) at `at`, its PDF an hour later."""
    common = {"producer": "documents", "document_id": uuid.uuid4(), "kind": "attribution",
              "schooling_id": row["schooling_id"], "student_id": row["student_id"], "number": "D-1", "version": 1}
    return (DocumentIssued(**common, content_sha256="1" * 64, occurred_at=at),
            DocumentReady(**common, storage_ref="x", sha256="0" * 64, size_bytes=1,
                          occurred_at=at + timedelta(hours=1)))


async def consume(pool: asyncpg.Pool, event: DocumentIssued | DocumentReady | SchoolingChanged) -> None:
    """As the service's consumers do: through the handler subscribed to the event's type."""
    async with pool.acquire() as conn, conn.transaction():
        if isinstance(event, SchoolingChanged):
            await projection.on_schooling_opened(conn, event)
        else:
            await facts.HANDLERS[event.event_type](conn, event)


async def test_a_pfmp_validates_once_its_da_is_issued_and_the_pdf_changes_nothing(pool: asyncpg.Pool) -> None:
    """The DA exists from its issue (documents.md §3): DocumentIssued alone lets the PFMP validate, the renderer
    is off the path; the DocumentReady of the same version, later, is the same fact: no change, nothing stale."""
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    row = await pool.fetchrow("SELECT schooling_id, student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    issued, ready = da_events(row, datetime.now(UTC))
    await consume(pool, issued)
    assert await validate(pool, pfmp_id) == []
    decision = "SELECT kind, version, issued_at, identity_sha, content_sha, price FROM decisions"
    before = [dict(r) for r in await pool.fetch(decision)]
    assert [(d["kind"], d["version"], d["issued_at"]) for d in before] == [("attribution", 1, issued.occurred_at)]
    await consume(pool, ready)
    assert [dict(r) for r in await pool.fetch(decision)] == before
    assert await pool.fetchval("SELECT count(*) FROM stale_events") == 0


async def test_a_da_issued_before_a_change_it_does_not_print_is_stale_though_its_pdf_came_after(
        pool: asyncpg.Pool) -> None:
    """documents froze the DA's content at its issue: an establishment renamed between the issue and the PDF is
    not on it, so the DA is stale (documents.md §6), though its DocumentReady is later than the change."""
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    row = await pool.fetchrow("SELECT schooling_id, student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    issued, ready = da_events(row, datetime.now(UTC) + timedelta(minutes=1))
    await consume(pool, issued)
    await consume(pool, SchoolingChanged(
        producer="students", schooling_id=row["schooling_id"], student_id=row["student_id"],
        establishment=Establishment(uai=UAI, name="Lycée des métiers de test"), class_label="TLE PRO",
        school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=2, changed=("establishment",),
        occurred_at=issued.occurred_at + timedelta(minutes=30)))
    await consume(pool, ready)
    async with pool.acquire() as conn:
        assert await decision_content_sql.stale(conn, [row["schooling_id"]]) == {row["schooling_id"]: ("training",)}


async def test_validation_refuses_a_pfmp_without_a_rib_for_its_establishment(pool: asyncpg.Pool) -> None:
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    await issue_da(pool, pfmp_id)
    student_id = await pool.fetchval("SELECT student_id FROM pfmps")
    await pool.execute("INSERT INTO ribs_on_file VALUES ($1, '0999999Z')", student_id)  # another school's
    assert await validate(pool, pfmp_id, require_rib=True) == ["missing_rib"]
    await pool.execute("INSERT INTO ribs_on_file VALUES ($1, $2)", student_id, UAI)
    assert await validate(pool, pfmp_id, require_rib=True) == []


async def test_the_rib_guard_follows_rib_status_changed_newest_version_first(pool: asyncpg.Pool) -> None:
    """Issue 13: RibStatusChanged (and RibOnFile, its predecessor, same version sequence) set the guard's fact; a
    pair that lost its RIB fails the guard, and an older status read late does not bring the RIB back."""
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    await issue_da(pool, pfmp_id)
    student_id = await pool.fetchval("SELECT student_id FROM pfmps")
    rib_id = uuid.uuid4()
    on_file = RibOnFile(producer="students", rib_id=rib_id, student_id=student_id, establishment_uai=UAI,
                        owner_type="personal", version=1)

    def status(version: int, has: bool) -> RibStatusChanged:
        return RibStatusChanged(producer="students", student_id=student_id, establishment_uai=UAI,
                                has_active_rib=has, rib_id=rib_id if has else None,
                                owner_type="personal" if has else None, version=version)

    for event in (on_file, status(1, True)):  # both of one RIB: the same fact, applied alike
        async with pool.acquire() as conn, conn.transaction():
            await projection.on_rib_status(conn, event)
        assert await validate(pool, pfmp_id, require_rib=True, commit=False) == []
    for event in (status(2, False), on_file, status(1, True)):  # lost; then older ones, read late
        async with pool.acquire() as conn, conn.transaction():
            await projection.on_rib_status(conn, event)
        assert await validate(pool, pfmp_id, require_rib=True, commit=False) == ["missing_rib"]
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_rib_status(conn, status(3, True))
    assert await validate(pool, pfmp_id, require_rib=True) == []


async def test_a_class_selection_is_validated_all_or_nothing_with_each_reason(pool: asyncpg.Pool) -> None:
    ready = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12, ine=INES[0])
    no_da = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12, ine=INES[1])
    not_ended = await record(pool, date(2026, 3, 2), date(2026, 3, 13), 8, ine=INES[0])
    await issue_da(pool, ready)
    assert await validate(pool, ready, no_da, not_ended) == ["missing_attributive_decision", "not_finished"]
    assert await pool.fetchval("SELECT count(*) FROM pfmps WHERE status = 'validated'") == 0
    await issue_da(pool, no_da)
    assert await validate(pool, ready, no_da) == []
    assert Counter(e[0] for e in await events(pool))["PfmpValidated"] == 2


async def test_the_bulk_validation_skips_each_pfmp_without_da_and_names_the_reason(pool: asyncpg.Pool) -> None:
    with_da = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12, ine=INES[0])
    await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12, ine=INES[1])
    await issue_da(pool, with_da)
    async with pool.acquire() as conn, conn.transaction():
        report = await validate_establishment(conn, uai=UAI, user_id="director-1", today=TODAY, topic="t",
                                              require_rib=False)
    assert report.as_dict() == {"validated": 1, "skipped": {"missing_attributive_decision": 1}}
    assert [p.pfmp_id for p in report.validated] == [with_da]


async def test_an_action_without_a_user_id_is_refused(pool: asyncpg.Pool) -> None:
    pfmp_id = await record(pool, date(2025, 11, 3), date(2025, 11, 21), 12)
    with pytest.raises(PfmpError) as refused:
        await edit(pool, EditPfmp(pfmp_id, "  ", day_count=3))
    assert refused.value.code == "missing_user"
