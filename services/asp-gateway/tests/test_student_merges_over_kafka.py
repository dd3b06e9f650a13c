"""A student merge reaches the whole gateway in-process on the real broker (imports.md §5.8): StudentsMerged on the
students topic moves the merged student's ASP individual id to the survivor, whose first payment file then names
it instead of creating a second individual; the merged student's request published later lands on the survivor."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_contracts import PaymentRequested, StudentsMerged
from aplypro_contracts.topics import CALCULATOR_EVENTS, STUDENTS_EVENTS
from aplypro_local.testing import eventually

from .gateway_on_broker import gateway, reasons_of
from .ingest_world import ingest, integrations
from .return_samples import integration_line
from .test_service_runtime import events_of_one_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_the_survivors_first_file_names_the_merged_students_asp_individual(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    merged_events, survivor_events = events_of_one_student(), events_of_one_student()
    merged_request, survivor_request = merged_events[-1][2], survivor_events[-1][2]
    assert isinstance(merged_request, PaymentRequested)
    assert isinstance(survivor_request, PaymentRequested)
    merged, survivor = merged_request.student_id, survivor_request.student_id
    async with gateway(service_env, monkeypatch, tmp_path) as (settings, pool, send):
        # The merged student was paid first: sent, then integrated by the ASP as individual 1200000.
        for topic, key, event in merged_events:
            await send(topic, key, event)

        async def sent() -> bool:
            state = await reasons_of(pool, merged_request.payment_request_id)
            return state is not None and state[0] == "sent"

        await eventually(sent, 60, "the merged student's request sent")
        record = await pool.fetchrow("SELECT file_name, record_id FROM file_records WHERE payment_request_id = $1",
                                     merged_request.payment_request_id)
        assert record is not None
        [answer] = await ingest(pool, build_options(settings), integrations(
            record["file_name"], [], integration_line(record["record_id"], 0)))
        assert answer.applied == 1

        # The operator merges them (the students service's events, keyed by the survivor), before the survivor's
        # request is handed over.
        for topic, key, event in survivor_events[:-1]:
            await send(topic, key, event)
        await send(STUDENTS_EVENTS, survivor, StudentsMerged(producer="students", survivor_id=survivor,
                                                             merged_id=merged, version=1))

        async def merge_applied() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM merged_students WHERE merged_id = $1", merged))

        await eventually(merge_applied, 60, "StudentsMerged applied")
        await send(CALCULATOR_EVENTS, survivor, survivor_request)
        late = merged_request.model_copy(update={"payment_request_id": uuid.uuid4(), "pfmp_id": uuid.uuid4(),
                                                 "pfmp_rank": 2, "event_id": uuid.uuid4()})
        await send(CALCULATOR_EVENTS, merged, late)  # the merged student's id, read after the merge

        async def both_sent() -> bool:
            states = [await reasons_of(pool, r.payment_request_id) for r in (survivor_request, late)]
            return all(s is not None and s[0] == "sent" for s in states)

        await eventually(both_sent, 60, "the survivor's requests sent")
        files = {r["file_name"] for r in await pool.fetch(
            "SELECT file_name FROM payment_requests WHERE payment_request_id = ANY($1::uuid[])",
            [survivor_request.payment_request_id, late.payment_request_id])}
        contents = b"".join([await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", f)
                             for f in files])
        # Two records, both naming the one individual the ASP knows; the late one also its dossier.
        assert contents.count(b'<INDIVIDU idIndividu="1200000" modification="O">') == 2
        assert contents.count(b'<DOSSIER idDoss="7600000" modification="N">') == 1
        assert await pool.fetchval("SELECT student_id FROM payment_requests WHERE payment_request_id = $1",
                                   late.payment_request_id) == survivor
