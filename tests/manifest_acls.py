"""What each service's Kafka principal may do, derived from the code: its ServiceSpec (what it produces,
which topics each Subscription reads and under which consumer group) and the dead-letter rule (a consumer
writes the dead letters of what it reads to `<topic>.dlt`, through its own outbox and relay). Plus the
outside producers of schooling events (docs/producers.md): each writes its inbound topic and reads its
rejections, nothing else; the students service is built with the producers deployed.

deploy/k8s/kafka-acls.yaml must list exactly these (tests/test_manifest_security.py), and the README's
table is `acl_table()`: `uv run python tests/manifest_acls.py` prints both.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aplypro_contracts.inbound import inbound_topic, rejections_topic
from aplypro_contracts.topics import dead_letter_topic
from aplypro_servicekit.runtime import ServiceSpec

SERVICES = ("students", "pfmp", "calculator", "documents", "asp-gateway")
# The outside producers deployed (APLYPRO_STUDENTS_INBOUND_PRODUCERS of deploy/k8s/students.yaml): the example.
INBOUND_PRODUCERS = {"mer": ("MER",)}
PRODUCERS = tuple(f"producer-{name}" for name in INBOUND_PRODUCERS)  # their Kafka principals


@dataclass(frozen=True, order=True)
class Acl:
    principal: str  # the service's SCRAM user, its own name
    operation: str  # Kafka's: Read, Write
    resource: str  # topic or group
    name: str

    def line(self) -> str:
        return f"{self.principal} {self.operation} {self.resource} {self.name}"


def _builders() -> dict[str, Callable[[], ServiceSpec]]:
    # Imported here: each import pulls a service's whole package.
    from aplypro_asp_gateway.config import AspSettings
    from aplypro_asp_gateway.entrypoints.service import build_spec as asp
    from aplypro_calculator.config import CalculatorSettings
    from aplypro_calculator.entrypoints.service import build_spec as calculator
    from aplypro_documents.config import DocumentsSettings
    from aplypro_documents.entrypoints.service import build_spec as documents
    from aplypro_pfmp.config import PfmpSettings
    from aplypro_pfmp.entrypoints.service import build_spec as pfmp
    from aplypro_students.config import StudentsSettings
    from aplypro_students.entrypoints.service import build_spec as students

    pairs: dict[str, tuple[Callable[[Any], ServiceSpec], type[Any]]] = {
        "students": (students, StudentsSettings), "pfmp": (pfmp, PfmpSettings),
        "calculator": (calculator, CalculatorSettings), "documents": (documents, DocumentsSettings),
        "asp-gateway": (asp, AspSettings),
    }
    # Default settings: no topic namespace, so the names are the production ones.
    return {name: partial(_build, build, settings) for name, (build, settings) in pairs.items()}


def _build(build: Callable[[Any], ServiceSpec], settings: type[Any]) -> ServiceSpec:
    if settings.__name__ == "StudentsSettings":
        return build(settings(inbound_producers=INBOUND_PRODUCERS))
    return build(settings())


def specs() -> dict[str, ServiceSpec]:
    return {name: build() for name, build in _builders().items()}


def consumed(spec: ServiceSpec) -> set[str]:
    return {t for sub in spec.subscriptions for t in sub.topics}


def service_topics(spec: ServiceSpec) -> set[str]:
    """Every topic the service's principal touches: what it writes, reads, and the dead letters it writes."""
    return set(spec.produces) | consumed(spec) | {dead_letter_topic(t) for t in consumed(spec)}


def acls_of(spec: ServiceSpec) -> set[Acl]:
    me = spec.name
    acls = {Acl(me, "Write", "topic", t) for t in spec.produces}
    acls |= {Acl(me, "Read", "topic", t) for t in consumed(spec)}
    acls |= {Acl(me, "Write", "topic", dead_letter_topic(t)) for t in consumed(spec)}
    acls |= {Acl(me, "Read", "group", f"{me}.{sub.consumer_name}") for sub in spec.subscriptions}
    return acls


def producer_acls(producer: str) -> set[Acl]:
    """An outside producer writes its inbound topic and reads its rejections, with one consumer group."""
    me = f"producer-{producer}"
    return {Acl(me, "Write", "topic", inbound_topic(producer)), Acl(me, "Read", "topic", rejections_topic(producer)),
            Acl(me, "Read", "group", f"{me}.rejections")}


def expected_acls() -> list[Acl]:
    services = {acl for spec in specs().values() for acl in acls_of(spec)}
    return sorted(services | {acl for name in INBOUND_PRODUCERS for acl in producer_acls(name)})


def acl_table(acls: list[Acl]) -> str:
    """The README table: one row per topic, its producers and its consumers."""
    topics = sorted({a.name for a in acls if a.resource == "topic"})
    rows = ["| topic | produced by | read by |", "| --- | --- | --- |"]
    for topic in topics:
        writers = sorted(a.principal for a in acls if a.name == topic and a.operation == "Write")
        readers = sorted(a.principal for a in acls if a.name == topic and a.operation == "Read")
        rows.append(f"| `{topic}` | {', '.join(writers) or '-'} | {', '.join(readers) or '-'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    found = expected_acls()
    sys.stdout.write("\n".join(a.line() for a in found) + "\n\n" + acl_table(found) + "\n")
