"""RibArchived (issue 13) on the real PostgreSQL: the gateway never puts an archived RIB in a file; a request
waits for the current one (missing_rib); a stale RibArchived or a late copy of the archived RIB changes nothing;
the request's PaymentRequestSent names the RIB frozen on it (read by the students service: unarchivable_rib)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import RibArchived, RibRecorded

from .conftest import IBANS, UAI, feed, register, request
from .published import outbox_events

pytestmark = pytest.mark.integration


def recorded(student_id: uuid.UUID, iban: str, version: int) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                       owner_type="personal", holder_name="ZORGLUB0 Léa", iban=iban, bic="AGRIFRPP", version=version)


def archived(rib: RibRecorded, student_id: uuid.UUID | None = None, version: int | None = None) -> RibArchived:
    return RibArchived(producer="students", rib_id=rib.rib_id, student_id=student_id or rib.student_id,
                       establishment_uai=UAI, version=rib.version if version is None else version)


async def test_an_archived_rib_is_never_put_in_a_file_and_the_next_one_is(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    old = recorded(student_id, IBANS[0], 1)
    await feed(pool, projection.on_rib_recorded, old)
    await feed(pool, projection.on_rib_archived, archived(old))
    await feed(pool, projection.on_rib_recorded, old.model_copy(update={"event_id": uuid.uuid4()}))  # late copy
    await feed(pool, projection.on_payment_requested, request(student_id, schooling_id))

    blocked = await build_payment_file(pool, options)
    assert (blocked.file_name, blocked.blocked) == (None, 1)
    assert await pool.fetchval("SELECT blocking_reasons FROM payment_requests") == ["missing_rib"]

    new = recorded(student_id, IBANS[1], 2)
    await feed(pool, projection.on_rib_recorded, new)
    await feed(pool, projection.on_rib_archived, archived(old))  # stale: a newer RIB is held
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'RibArchived'") == 1
    result = await build_payment_file(pool, options)
    assert result.file_name is not None
    content = (options.outbox_dir / result.file_name).read_bytes()
    assert IBANS[1][4:].encode() in content
    assert IBANS[0][4:].encode() not in content
    assert [e.rib_id for e in await outbox_events(pool, "PaymentRequestSent")] == [
        new.rib_id]


async def test_a_rib_archived_by_a_merge_is_dropped_where_the_merged_student_held_it(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    """After a merge the RIB is the survivor's, archived at a later version; the gateway still holds it under the
    merged student, whose request (not re-pointed here) must not be paid to it."""
    merged, schooling_id = await register(pool, 0, with_rib=False)
    rib = recorded(merged, IBANS[0], 1)
    await feed(pool, projection.on_rib_recorded, rib)
    await feed(pool, projection.on_rib_archived, archived(rib, student_id=uuid.uuid4(), version=3))
    await feed(pool, projection.on_payment_requested, request(merged, schooling_id))
    result = await build_payment_file(pool, options)
    assert (result.file_name, result.blocked) == (None, 1)
    assert await pool.fetchval("SELECT blocking_reasons FROM payment_requests") == ["missing_rib"]
