"""docs/producers.md followed literally by an outside producer: a plain aiokafka producer sends the guide's
example (topic, key, headers and body taken from the page) to the real broker; the students service applies
it once, and every rejection of the guide's table comes back on the producer's `.rejected` topic. The
guide's retraction is refused once the documents service has published the schooling's décision
d'attribution; a schooling without one is withdrawn (SchoolingHiddenChanged) and cannot be reported again."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aplypro_contracts import DocumentReady
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import wire_body, wire_headers
from aplypro_contracts.topics import DOCUMENTS_EVENTS, STUDENTS_EVENTS
from aplypro_local.testing import eventually, read_topic
from aplypro_servicekit.runtime import ServiceRuntime
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.reference import Establishment, Mef
from aplypro_students.entrypoints.service import build_spec
from aplypro_students.service_layer.reference import load_establishments, load_mefs

pytestmark = pytest.mark.integration

GUIDE = (Path(__file__).resolve().parents[3] / "docs" / "producers.md").read_text(encoding="utf-8")
PRODUCER = "mer"


def guide_example() -> tuple[str, bytes, list[tuple[str, bytes]], dict[str, Any]]:
    """Topic, key, headers and body exactly as the guide gives them."""
    topic = re.search(r"\| topic \| `([^`]+)` \|", GUIDE)
    key = re.search(r"Key `([^`]+)`, headers", GUIDE)
    example = GUIDE.split("### Complete example", 1)[1]
    body = re.search(r"```json\n(.*?)```", example, re.S)
    headers = re.findall(r"\| header `([a-z-]+)` \| `([^`]+)` \|", GUIDE)
    assert topic
    assert key
    assert body
    assert len(headers) == 3
    return (topic[1].replace("<your id>", PRODUCER), key[1].encode(),
            [(name, value.encode()) for name, value in headers], json.loads(body[1]))


async def read_rejections(bootstrap: str, namespace: str, expected: int) -> list[Any]:
    """As the guide says: the `.rejected` topic, with the producer's consumer group (namespaced here)."""
    topic = re.search(r"Read `([^`]+)` \(group `([^`]+)`\)", GUIDE)
    assert topic
    name, group = (topic[i].replace("<your id>", PRODUCER) for i in (1, 2))
    consumer = AIOKafkaConsumer(namespace + name, bootstrap_servers=bootstrap, group_id=namespace + group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records += batch
    finally:
        await consumer.stop()
    return records


def guide_retraction() -> tuple[bytes, list[tuple[str, bytes]], dict[str, Any]]:
    """Key, headers and body of the guide's SchoolingRetracted example."""
    section = GUIDE.split("### Withdrawing a schooling", 1)[1]
    sentence = re.search(r"Key `([^`]+)`, headers (.*?), value:", section, re.S)
    body = re.search(r"```json\n(.*?)```", section, re.S)
    assert sentence
    assert body
    headers = re.findall(r"`([a-z-]+): ([^`]+)`", sentence[2])
    assert [name for name, _ in headers] == ["event-type", "schema-version", "content-type"]
    return sentence[1].encode(), [(n, v.encode()) for n, v in headers], json.loads(body[1])


async def publish_as_documents(bootstrap: str, topic: str, event: DocumentReady) -> None:
    """What the documents service publishes when a décision d'attribution is ready (keyed by student)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in wire_headers(event.event_type, event.schema_version).items()]
        await producer.send_and_wait(topic, wire_body(event), key=str(event.student_id).encode(), headers=headers)
    finally:
        await producer.stop()


async def send_all(bootstrap: str, topic: str, messages: list[tuple[bytes, list[tuple[str, bytes]],
                                                                    bytes | dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, headers, body in messages:
            value = body if isinstance(body, bytes) else json.dumps(body).encode()
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def rejected_codes() -> list[str]:
    section = GUIDE.split("| `reason-code` | why |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, re.M)


def variant(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The example with a new event id and the changes (dotted paths; None deletes)."""
    out = copy.deepcopy(body)
    out["event_id"] = str(uuid.uuid4())
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = out
        for p in parents:
            node = node[p]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return out


async def test_an_outside_producer_following_the_guide_is_applied_once_and_reads_each_rejection(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, setting in service_env.items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("APLYPRO_STUDENTS_INBOUND_PRODUCERS", json.dumps({PRODUCER: ["MER"]}))
    settings = StudentsSettings()
    namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
    topic, key, headers, example = guide_example()
    runtime = ServiceRuntime(build_spec(settings), settings)
    await runtime.start()
    try:
        assert runtime.pool is not None
        # Our side (section 1 of the guide): the directory, the year's MEFs, and the operators making the
        # producer the students provider of its establishment (0999004N stays with SYGNE).
        async with runtime.pool.acquire() as conn, conn.transaction():
            await load_establishments(conn, [Establishment("0999003M", "Lycée maritime de Concarneau", "MER", "14"),
                                             Establishment("0999004N", "Lycée maritime du Guilvinec", "MER", "14"),
                                             Establishment("0999001K", "LP Jean Jaurès", "MENJ", "14")])
            await load_mefs(conn, 2025, [Mef("2472620311", "247", "40030001", 3, 1, "2NDE PRO CGEM", "MER")])
            await conn.execute("UPDATE establishments SET students_provider = 'events:mer' WHERE uai = '0999003M'")
            await conn.execute("UPDATE establishments SET students_provider = 'sygne' WHERE uai = '0999004N'")

        # The rejections of the guide's table, sent before the good event: none of them stops the consumer.
        bad: list[tuple[str, bytes | dict[str, Any]]] = [
            ("malformed", b"{not json"),
            ("unknown_event_type", variant(example, event_type="SchoolingCancelled")),
            ("unsupported_schema_version", variant(example, schema_version=2)),
            ("schema_violation", variant(example, source_record_id=None)),
            ("producer_mismatch", variant(example, producer="armees")),
            ("unknown_establishment", variant(example, schooling__establishment_uai="0999999Z")),
            ("establishment_out_of_scope", variant(example, schooling__establishment_uai="0999001K")),
            ("not_students_provider", variant(example, schooling__establishment_uai="0999004N")),
            ("unknown_school_year", variant(example, schooling__school_year=2024)),
            ("unknown_mef", variant(example, schooling__mef_code="2472620399")),
            ("invalid_ine", variant(example, student__ine="000111225ad")),
            ("impossible_dates", variant(example, schooling__end_date="2025-08-31")),
        ]
        closed = variant(example, source_version=4, schooling__end_date="2026-02-14")
        stale = variant(example, source_version=3, schooling__class_label="2NDE AUTRE")
        reused = {**copy.deepcopy(example), "source_version": 9}  # the example's event_id, another body
        sends: list[bytes | dict[str, Any]] = [
            *(body for _, body in bad),
            example, example,  # a producer's retry: the same event twice
            stale, closed, reused,
        ]
        bootstrap = service_env["KAFKA_BOOTSTRAP_SERVERS"]
        await send_all(bootstrap, namespace + topic, [(key, headers, body) for body in sends])
        await eventually(lambda: _applied(runtime, example["source_record_id"], 4), 20, "the closing version applied")

        # The documents service issues the schooling's décision d'attribution: the producer's retraction
        # (the guide's example) is then refused, and a retraction of a record never sent is unknown.
        schooling_id, student_id = await _schooling_of(runtime, "000111225AD")
        document = next(e for e in examples() if isinstance(e, DocumentReady))
        await publish_as_documents(bootstrap, settings.topic(DOCUMENTS_EVENTS), document.model_copy(
            update={"kind": "attribution", "schooling_id": schooling_id, "student_id": student_id}))
        await eventually(lambda: _decided(runtime, schooling_id), 20, "the decision known to the students service")
        retract_key, retract_headers, retraction = guide_retraction()
        unknown = variant(retraction, source_record_id="LPM-2025-NEVER-SENT")
        # Another learner's schooling, sent by mistake and withdrawn before any decision: accepted; a report
        # of that record afterwards is refused.
        other = variant(example, source_record_id="LPM-2025-004418", source_version=1,
                        student__ine="000111227AF", student__first_names=["Nolwenn"])
        withdrawn = variant(retraction, source_record_id="LPM-2025-004418", source_version=2)
        reported_again = variant(other, source_version=3)
        await send_all(bootstrap, namespace + topic, [
            (retract_key, retract_headers, retraction), (retract_key, retract_headers, unknown),
            (b"LPM-ELV-88214", headers, other), (b"LPM-ELV-88214", retract_headers, withdrawn),
            (b"LPM-ELV-88214", headers, reported_again)])

        # Every rejection comes back on the producer's topic, with its event id and a stable reason code.
        expected = [*bad, ("event_id_reused", reused), ("retract_refused", retraction),
                    ("unknown_record", unknown), ("record_retracted", reported_again)]
        keys = {"retract_refused": retract_key, "unknown_record": retract_key, "record_retracted": b"LPM-ELV-88214"}
        assert {code for code, _ in expected} == set(rejected_codes()), "one case per code of the guide"
        rejections = await read_rejections(bootstrap, namespace, len(expected))
        assert len(rejections) == len(expected)
        by_code = {dict(r.headers)["reason-code"].decode(): r for r in rejections}
        for code, body in expected:
            record = by_code[code]
            h = {k: v.decode() for k, v in record.headers}
            value = body if isinstance(body, bytes) else json.dumps(body).encode()
            assert (record.value, record.key) == (value, keys.get(code, key)), code  # the producer's bytes, unchanged
            assert h.get("event-id") == (None if isinstance(body, bytes) else body["event_id"]), code
            assert h["reason"], code
            assert (h["source-topic"], h["attempts"]) == (namespace + topic, "1"), code
            assert not {"000111225", "KERVRAN"} & set(re.findall(r"\w+", json.dumps(h))), code  # no personal data
        assert "source_record_id" in dict(by_code["schema_violation"].headers)["reason"].decode()

        # The accepted event, reconciled like an import: one student, one schooling opened then closed, still
        # there (its retraction refused). The other learner's schooling: opened, then withdrawn (hidden).
        await eventually(lambda: _applied(runtime, "LPM-2025-004418", 2), 20, "the withdrawal applied")
        events = await read_topic(bootstrap, settings.topic(STUDENTS_EVENTS), timeout=5, idle_s=2)
        other_id = (await _schooling_of(runtime, "000111227AF"))[1]
        by_student: dict[bytes, list[Any]] = {}
        for r in events:  # keyed by our student id
            by_student.setdefault(r.key, []).append(r)
        assert set(by_student) == {str(student_id).encode(), str(other_id).encode()}
        mine = by_student[str(student_id).encode()]
        types = [dict(r.headers)["event-type"].decode() for r in mine]
        assert types == ["StudentRegistered", "SchoolingOpened", "SchoolingClosed"]
        opened, closing = (json.loads(r.value) for r in mine[1:])
        assert (opened["establishment"]["uai"], opened["class_label"]) == ("0999003M", "2NDE CGEM")
        assert (opened["end_date"], closing["end_date"]) == (None, "2026-02-14")
        theirs = by_student[str(other_id).encode()]
        assert [dict(r.headers)["event-type"].decode() for r in theirs] == [
            "StudentRegistered", "SchoolingOpened", "SchoolingHiddenChanged"]
        assert json.loads(theirs[-1].value)["hidden"] is True
        rows = await runtime.pool.fetch(
            "SELECT st.ine, s.source, c.label, s.hidden_at IS NOT NULL AS hidden FROM schoolings s "
            "JOIN classes c USING (class_id) JOIN students st USING (student_id) ORDER BY st.ine")
        assert [tuple(r) for r in rows] == [("000111225AD", "events:mer", "2NDE CGEM", False),
                                            ("000111227AF", "events:mer", "2NDE CGEM", True)]
    finally:
        await runtime.stop()


async def _applied(runtime: ServiceRuntime, record: str, version: int) -> bool:
    assert runtime.pool is not None
    applied = await runtime.pool.fetchval("SELECT source_version FROM inbound_records WHERE source_record_id = $1",
                                          record)
    return bool(applied == version)


async def _schooling_of(runtime: ServiceRuntime, ine: str) -> tuple[uuid.UUID, uuid.UUID]:
    assert runtime.pool is not None
    row = await runtime.pool.fetchrow("SELECT schooling_id, student_id FROM schoolings JOIN students "
                                      "USING (student_id) WHERE ine = $1", ine)
    assert row is not None
    return row["schooling_id"], row["student_id"]


async def _decided(runtime: ServiceRuntime, schooling_id: uuid.UUID) -> bool:
    assert runtime.pool is not None
    return bool(await runtime.pool.fetchval(
        "SELECT decision_issued_at IS NOT NULL FROM schooling_money_facts WHERE schooling_id = $1", schooling_id))
