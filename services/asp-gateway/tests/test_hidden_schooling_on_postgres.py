"""A hidden schooling (staff removed a learner who never came, or its producer retracted it) on the real
PostgreSQL, through the projection and the build: a request the calculator handed over before it knew, or
after, is held back with `hidden_schooling` (never in a file, never silent) and released if staff reintegrate
the schooling; one already in a file is reported, not called back; a replayed hiding is stale."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import PaymentRequestHeld, SchoolingHiddenChanged

from .conftest import feed, register, request
from .published import outbox_events
from .test_gates_on_postgres import state_of

pytestmark = pytest.mark.integration


def hiding(student_id: uuid.UUID, schooling_id: uuid.UUID, hidden: bool, version: int) -> SchoolingHiddenChanged:
    return SchoolingHiddenChanged(producer="students", schooling_id=schooling_id, student_id=student_id,
                                  hidden=hidden, version=version)


async def test_a_request_of_a_hidden_schooling_is_held_with_its_reason_until_reintegrated(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    student_id, schooling_id = await register(pool, 0)
    before = request(student_id, schooling_id)  # handed over as ready before the calculator saw the hiding
    await feed(pool, projection.on_payment_requested, before)
    await feed(pool, projection.on_schooling_hidden_changed, hiding(student_id, schooling_id, True, 1))
    after = request(student_id, schooling_id, rank=2)  # or arriving after it
    await feed(pool, projection.on_payment_requested, after)

    assert (await build_payment_file(pool, options)).records == 0
    for waiting in (before, after):
        assert await state_of(pool, waiting.payment_request_id) == ("pending", ["hidden_schooling"])
    held: list[PaymentRequestHeld] = await outbox_events(pool, "PaymentRequestHeld")
    assert {(e.payment_request_id, e.reasons) for e in held} == {(before.payment_request_id, ("hidden_schooling",)),
                                                                 (after.payment_request_id, ("hidden_schooling",))}

    # Staff reintegrate the learner (version 2); the hiding read again afterwards is stale.
    await feed(pool, projection.on_schooling_hidden_changed, hiding(student_id, schooling_id, False, 2))
    await feed(pool, projection.on_schooling_hidden_changed, hiding(student_id, schooling_id, True, 1))
    assert (await build_payment_file(pool, options)).records == 1  # one record per student and file
    assert await state_of(pool, before.payment_request_id) == ("sent", [])
    assert "hidden_schooling" not in (await state_of(pool, after.payment_request_id))[1]


async def test_a_request_already_in_a_file_is_not_called_back_and_others_of_the_student_go_on(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    student_id, schooling_id = await register(pool, 1)
    sent = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, sent)
    assert (await build_payment_file(pool, options)).records == 1
    await feed(pool, projection.on_schooling_hidden_changed, hiding(student_id, schooling_id, True, 1))
    assert await state_of(pool, sent.payment_request_id) == ("sent", [])  # past every gate: logged for operators
    other_student, other_schooling = await register(pool, 2)
    await feed(pool, projection.on_payment_requested, request(other_student, other_schooling))
    assert (await build_payment_file(pool, options)).records == 1  # another student's request is not held
