"""Writes the JSON Schema of every contract and the AsyncAPI document of the whole system."""

from __future__ import annotations

import json
from pathlib import Path

from aplypro_contracts import ALL_MODELS
from aplypro_contracts.catalog import CATALOG, INBOUND
from aplypro_contracts.inbound import INBOUND_MODELS, rejections_topic
from aplypro_contracts.topics import dead_letter_topic
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI


def json_schemas() -> dict[str, str]:
    """File name → JSON Schema text, one per (event type, version)."""
    out = {}
    for model in (*ALL_MODELS, *INBOUND_MODELS):
        event_type = model.model_fields["event_type"].default
        version = model.model_fields["schema_version"].default
        out[f"{event_type}.v{version}.schema.json"] = json.dumps(model.model_json_schema(), indent=2,
                                                                  ensure_ascii=False) + "\n"
    return out


def asyncapi_document() -> str:
    broker = KafkaBroker("kafka:9092")  # only described, never connected
    for topic in CATALOG:
        for model in topic.events:
            broker.publisher(topic.name, schema=model, title=f"{topic.name}:{model.__name__}",
                             description=f"Owner: {topic.owner}. Key: {topic.key}. {topic.note}".strip())
        broker.publisher(dead_letter_topic(topic.name), title=f"{dead_letter_topic(topic.name)}:dead-letter",
                         description="Original bytes; headers dlt-reason-code, dlt-reason, dlt-source-*.")
    for topic in INBOUND:  # written by other ministries' systems (docs/producers.md)
        for model in topic.events:
            broker.publisher(topic.name, schema=model, title=f"{topic.name}:{model.__name__}",
                             description=f"Owner: {topic.owner}. Key: {topic.key}. {topic.note}".strip())
        rejected = rejections_topic(topic.owner)
        broker.publisher(rejected, title=f"{rejected}:rejection",
                         description="Read by the producer: its event's bytes unchanged; headers reason-code, "
                         "reason (names a field, never its value), event-id, source-topic, source-partition, "
                         "source-offset, attempts (docs/producers.md).")
    spec = AsyncAPI(broker, title="APLyPro events", version="1.0.0",
                    description="Every topic of APLyPro, its owner, key and event contracts.")
    return json.dumps(json.loads(spec.to_specification().to_json()), indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"


def write_all(root: Path) -> list[Path]:
    written = []
    schemas = root / "contracts" / "schemas"
    schemas.mkdir(parents=True, exist_ok=True)
    for name, text in json_schemas().items():
        (schemas / name).write_text(text, encoding="utf-8")
        written.append(schemas / name)
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "asyncapi.json").write_text(asyncapi_document(), encoding="utf-8")
    written.append(root / "docs" / "asyncapi.json")
    return written
