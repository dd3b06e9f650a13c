"""The whole gateway in-process on the real broker: the DA number a payment file carries is the one the
documents service printed (its DocumentReady `attribution`), and a request whose DA has not arrived waits for
it with missing_attributive_decision, then leaves with exactly that number."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aplypro_contracts import DocumentReady, PaymentRequested
from aplypro_contracts.topics import CALCULATOR_EVENTS, DOCUMENTS_EVENTS
from aplypro_local.testing import eventually
from lxml import etree

from .gateway_on_broker import gateway, reasons_of
from .test_service_runtime import events_of_one_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NS = {"f": "http://www.cnasea.fr/fichier"}
PRINTED = "ENPUQ7W3ZK2M8D20252"  # a reissued DA (version 2): nothing the gateway could derive by itself


def attribution(request: PaymentRequested, number: str, version: int) -> DocumentReady:
    return DocumentReady(producer="documents", document_id=uuid.uuid4(), kind="attribution",
                         schooling_id=request.schooling_id, student_id=request.student_id, number=number,
                         version=version, storage_ref="a.pdf", sha256="0" * 64, size_bytes=10)


async def test_a_request_waits_for_its_da_and_leaves_with_the_number_the_documents_service_printed(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with gateway(service_env, monkeypatch, tmp_path) as (_, pool, send):
        *facts, (_, _, requested) = [e for e in events_of_one_student() if not isinstance(e[2], DocumentReady)]
        assert isinstance(requested, PaymentRequested)
        # The student, the schooling and the RIB arrive, then the calculator's request: no DA yet.
        for topic, key, event in facts:
            await send(topic, key, event)
        await send(CALCULATOR_EVENTS, requested.student_id, requested)

        async def waits_for_its_da() -> bool:
            return await reasons_of(pool, requested.payment_request_id) == (
                "pending", ["missing_attributive_decision"])

        await eventually(waits_for_its_da, 60, "the request blocked for its missing DA")
        assert not list(tmp_path.glob("*.xml"))  # nothing left without a DA number

        # The documents service issues the DA (a reissue, version 2), then an older version comes late.
        await send(DOCUMENTS_EVENTS, requested.student_id, attribution(requested, PRINTED, 2))
        await send(DOCUMENTS_EVENTS, requested.student_id,
                   attribution(requested, PRINTED[:-1] + "1", 1))

        async def sent_and_handed_over() -> bool:
            state = await reasons_of(pool, requested.payment_request_id)
            return state is not None and state[0] == "sent" and any(tmp_path.glob("*.xml"))

        await eventually(sent_and_handed_over, 60, "the request released into a payment file")

        async def stale_counted() -> bool:
            return bool(await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'DocumentReady'") == 1)

        await eventually(stale_counted, 30, "the older DA dropped as stale")
        [path] = list(tmp_path.glob("*.xml"))
        root = etree.fromstring(path.read_bytes())
        # DOSSIER/NUMADM is the printed DA number; PRESTADOSS/NUMADM is it + the PFMP's rank (documents.md §4).
        assert [e.text for e in root.iterfind(".//f:DOSSIER/f:NUMADM", NS)] == [PRINTED]
        assert [e.text for e in root.iterfind(".//f:PRESTADOSS/f:NUMADM", NS)] == [PRINTED + "01"]
        assert await pool.fetchval("SELECT number FROM attributive_decisions WHERE schooling_id = $1",
                                   requested.schooling_id) == PRINTED

