"""The gateway's identity of a student follows the students service's identity version (StudentRegistered v2,
StudentIdentityChanged, StudentAddressChanged): an older version read late is dropped and counted, whatever its
occurred_at; unversioned v1 identities still follow each other by occurred_at."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_contracts import Identity, StudentAddressChanged, StudentRegistered, default_registry
from aplypro_contracts.students import Address

from .conftest import feed

pytestmark = pytest.mark.integration
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def identity(city: str) -> Identity:
    return Identity(ine="000000001AB", last_name="MARTIN", first_names=("Hugo",), birth_date=date(2008, 1, 5),
                    sex="male", birth_city_insee="35238", birth_country_insee="99100",
                    address=Address(lines=("1 rue Haute",), postal_code="35000", city_insee=city, city_name="X"))


async def city(pool: asyncpg.Pool, student_id: uuid.UUID) -> str:
    return str(await pool.fetchval("SELECT address_city_insee FROM students WHERE student_id = $1", student_id))


async def test_an_older_identity_version_is_dropped_even_with_a_later_occurred_at(pool: asyncpg.Pool) -> None:
    student_id = uuid.uuid4()
    moved = StudentAddressChanged(producer="students", student_id=student_id, identity=identity("35047"), version=2,
                                  changed=("address",), occurred_at=AT)
    await feed(pool, projection.on_student_registered, moved)
    # the registration (version 1), read late and stamped later (another clock): still older
    await feed(pool, projection.on_student_registered, StudentRegistered(
        producer="students", student_id=student_id, identity=identity("35238"), version=1,
        occurred_at=AT + timedelta(hours=1)))
    assert await city(pool, student_id) == "35047"
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'StudentRegistered'") == 1


async def test_unversioned_identities_still_follow_each_other_by_occurred_at(pool: asyncpg.Pool) -> None:
    student_id = uuid.uuid4()

    def v1(code: str, at: datetime) -> StudentRegistered:
        body = StudentRegistered(producer="students", student_id=student_id, identity=identity(code), version=1,
                                 occurred_at=at).model_dump(mode="json", exclude={"version"})
        event = default_registry().parse_obj({**body, "schema_version": 1})
        assert isinstance(event, StudentRegistered)
        return event

    await feed(pool, projection.on_student_registered, v1("35047", AT))
    await feed(pool, projection.on_student_registered, v1("35238", AT - timedelta(hours=1)))  # older: dropped
    assert await city(pool, student_id) == "35047"
    await feed(pool, projection.on_student_registered, v1("29019", AT + timedelta(hours=1)))
    assert await city(pool, student_id) == "29019"
