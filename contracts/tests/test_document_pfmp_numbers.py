"""DocumentReady carries the PFMP numbers an état liquidatif printed (optional, added within v1): messages
written before the field still parse, with no numbers."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

from aplypro_contracts import DocumentReady, PfmpNumber, default_registry

FIXTURE = Path(__file__).parent / "fixtures" / "DocumentReady.v1.json"
PFMP = UUID("00000000-0000-0000-0000-000000000009")


def test_a_document_ready_written_before_the_field_parses_with_no_pfmp_numbers() -> None:
    body = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert "pfmp_numbers" not in body  # the stored fixture is the old shape
    event = default_registry().parse(FIXTURE.read_bytes())
    assert isinstance(event, DocumentReady)
    assert event.pfmp_numbers == ()
    old_liquidation = default_registry().parse(json.dumps(body | {"kind": "liquidation"}).encode())
    assert isinstance(old_liquidation, DocumentReady)
    assert old_liquidation.pfmp_numbers == ()


def test_an_etat_liquidatif_announces_each_pfmp_number_it_printed() -> None:
    body = json.loads(FIXTURE.read_text(encoding="utf-8")) | {
        "kind": "liquidation", "pfmp_numbers": [{"pfmp_id": str(PFMP), "number": "ENPUK7Q2M9X4TB2025101"}]}
    event = default_registry().parse(json.dumps(body).encode())
    assert isinstance(event, DocumentReady)
    assert event.pfmp_numbers == (PfmpNumber(pfmp_id=PFMP, number="ENPUK7Q2M9X4TB2025101"),)
    assert default_registry().parse(event.model_dump_json()) == event
