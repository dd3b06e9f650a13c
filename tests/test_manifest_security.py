"""deploy/k8s is least-privilege: Kafka users and ACLs from the code, TLS everywhere, one PostgreSQL role per
schema (run on a real PostgreSQL), network policies, and no credential in the repository."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import yaml
from aplypro_contracts.topics import ALL_TOPICS, STUDENTS_RIBS, dead_letter_topic
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.settings import ServiceSettings

from .manifest_acls import (
    INBOUND_PRODUCERS,
    PRODUCERS,
    SERVICES,
    Acl,
    acl_table,
    expected_acls,
    producer_acls,
    service_topics,
    specs,
)

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
CA_DIR = "/etc/aplypro/ca"
# The services that need bank details (documents: the DA's bank block; asp-gateway: the payment file;
# calculator: only the student and establishment ids, to retry blocked requests). Nobody else.
RIB_READERS = {"documents", "asp-gateway", "calculator"}
OUTSIDE = {"students": {("198.51.100.0/24", 443)}, "asp-gateway": {("192.0.2.10/32", 22)}}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return [d for path in sorted(K8S.glob("*.y*ml")) for d in yaml.safe_load_all(path.read_text()) if d]


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pods(docs: list[Doc]) -> dict[str, Doc]:
    """Pod template of every workload, by its app.kubernetes.io/name label."""
    found = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            template = doc["spec"]["template"]
            found[template["metadata"]["labels"]["app.kubernetes.io/name"]] = template
    return found


def env(container: Doc, docs: list[Doc]) -> dict[str, str]:
    """Literal and ConfigMap values; a Secret reference reads `secret:<name>/<key>`."""
    maps = of_kind(docs, "ConfigMap")
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values |= maps[source["configMapRef"]["name"]]["data"]
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            values[entry["name"]] = maps[ref["configMapKeyRef"]["name"]]["data"][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            values[entry["name"]] = f"secret:{ref['secretKeyRef']['name']}/{ref['secretKeyRef']['key']}"
        else:
            values[entry["name"]] = entry["value"]
    return values


def service_containers(docs: list[Doc], name: str) -> list[Doc]:
    spec = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def manifest_acls(docs: list[Doc]) -> list[Acl]:
    lines = of_kind(docs, "ConfigMap")["kafka-acls"]["data"]["ACLS"].splitlines()
    return [Acl(*line.split()) for line in lines if line.strip()]


# --- Kafka: users and ACLs -------------------------------------------------------------------------------


def test_the_acls_are_exactly_what_the_code_produces_and_subscribes_to(docs: list[Doc]) -> None:
    listed = manifest_acls(docs)
    assert len(listed) == len(set(listed)), "an ACL is listed twice"
    expected = expected_acls()
    missing, extra = set(expected) - set(listed), set(listed) - set(expected)
    assert not missing, f"kafka-acls.yaml lacks what the code needs: {missing}"
    assert not extra, f"kafka-acls.yaml allows what the code does not do: {extra}"


def test_each_topic_has_its_owner_as_only_producer_and_dead_letters_written_by_its_readers() -> None:
    acls = expected_acls()

    def who(operation: str, topic: str) -> set[str]:
        return {a.principal for a in acls if a.resource == "topic" and a.name == topic and a.operation == operation}

    for topic in ALL_TOPICS:
        owner = topic.split(".")[1]  # aplypro.<owning service>.<stream>
        assert who("Write", topic) == {owner}, topic
        assert who("Read", topic), f"{topic} has no reader"
        assert owner not in who("Read", topic), f"{owner} reads its own topic {topic}"
        # Each consumer writes the dead letters of what it reads, and nobody reads them (break-glass only).
        assert who("Write", dead_letter_topic(topic)) == who("Read", topic), topic
        assert who("Read", dead_letter_topic(topic)) == set(), topic
    assert {a.resource for a in acls} == {"topic", "group"}
    assert {a.operation for a in acls} == {"Read", "Write"}  # no Create, Alter, Delete, All


def test_an_outside_producer_writes_only_its_inbound_topic_and_reads_only_its_rejections(docs: list[Doc]) -> None:
    acls = expected_acls()
    (students,) = of_kind(docs, "Deployment")["students"]["spec"]["template"]["spec"]["containers"]
    deployed = json.loads(env(students, docs)["APLYPRO_STUDENTS_INBOUND_PRODUCERS"])
    assert {name: tuple(ministries) for name, ministries in deployed.items()} == INBOUND_PRODUCERS
    for name in INBOUND_PRODUCERS:
        principal = f"producer-{name}"
        assert {a for a in acls if a.principal == principal} == producer_acls(name)
        topic = f"aplypro.inbound.schoolings.{name}"
        # Only the students service reads what the producer writes, and only it writes the answers.
        assert {a.principal for a in acls if a.name == topic and a.operation == "Read"} == {"students"}
        assert {a.principal for a in acls if a.name == f"{topic}.rejected" and a.operation == "Write"} == {"students"}
        assert {a.principal for a in acls if a.name == f"{topic}.dlt" and a.operation == "Read"} == set()
        for pod in pods(docs).values():  # no pod of ours holds the producer's password
            for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
                if pod["metadata"]["labels"]["app.kubernetes.io/name"] != "kafka-users-acls":
                    assert f"aplypro-{principal}" not in json.dumps(container)


def test_the_rib_topic_is_read_only_by_the_services_that_need_bank_details() -> None:
    readers = {a.principal for a in expected_acls() if a.name == STUDENTS_RIBS and a.operation == "Read"}
    assert readers == RIB_READERS, "a new reader of the bank details needs a review (and this set changed)"


def test_the_readme_table_is_the_acl_table(docs: list[Doc]) -> None:
    assert acl_table(manifest_acls(docs)) in (K8S / "README.md").read_text()


def test_one_kafka_user_per_service_with_its_password_from_its_own_secret(docs: list[Doc]) -> None:
    acl_map = of_kind(docs, "ConfigMap")["kafka-acls"]["data"]
    assert acl_map["USERS"].split() == [*SERVICES, *PRODUCERS]
    assert {a.principal for a in manifest_acls(docs)} <= {*SERVICES, *PRODUCERS}
    (job,) = of_kind(docs, "Job")["kafka-users-acls"]["spec"]["template"]["spec"]["containers"]
    job_env = env(job, docs)
    for principal in PRODUCERS:  # an outside producer's password: its own Secret, read by no pod of ours
        variable = f"PASSWORD_{principal.upper().replace('-', '_')}"
        assert job_env[variable] == f"secret:aplypro-{principal}/KAFKA_SASL_PASSWORD"
    for name in SERVICES:
        assert job_env[f"PASSWORD_{name.upper().replace('-', '_')}"] == f"secret:aplypro-{name}/KAFKA_SASL_PASSWORD"
        for container in service_containers(docs, name):
            values = env(container, docs)
            assert values["KAFKA_SASL_USERNAME"] == name, f"{name}/{container['name']}"
            assert values["KAFKA_SASL_PASSWORD"] == f"secret:aplypro-{name}/KAFKA_SASL_PASSWORD"


def test_each_service_waits_for_exactly_the_topics_its_user_may_see(docs: list[Doc]) -> None:
    code = specs()
    for name in SERVICES:
        (init,) = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["initContainers"]
        assert set(env(init, docs)["TOPICS"].split()) == service_topics(code[name]), name


def test_every_service_connects_with_sasl_ssl_and_the_ca_and_creates_no_topic(
        docs: list[Doc], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVICES:
        pod = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]
        ca_volumes = {v["name"] for v in pod["volumes"] if v.get("configMap", {}).get("name") == "aplypro-ca"}
        (main,) = pod["containers"]
        for container in service_containers(docs, name):
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get(CA_DIR) in ca_volumes, f"{name}/{container['name']}: no CA"
        values = env(main, docs)
        assert values["KAFKA_SSL_CAFILE"].startswith(CA_DIR + "/")
        for key, value in values.items():  # the service reads these exactly like this
            monkeypatch.setenv(key, value)
        settings = ServiceSettings()
        assert settings.kafka_security.security_protocol == "SASL_SSL", name
        assert settings.kafka_security.sasl_mechanism == "SCRAM-SHA-512", name
        assert settings.kafka_security.sasl_username == name
        assert settings.create_topics is False, name


def test_the_brokers_take_clients_over_sasl_ssl_only_and_deny_what_no_acl_allows(docs: list[Doc]) -> None:
    kafka = of_kind(docs, "StatefulSet")["kafka"]
    (container,) = kafka["spec"]["template"]["spec"]["containers"]
    values = env(container, docs)
    protocols = dict(item.split(":") for item in values["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CLIENT": "SASL_SSL", "CONTROLLER": "SSL", "INTERNAL": "SSL"}
    assert "PLAINTEXT" not in values["KAFKA_LISTENERS"] + container["args"][0]
    assert values["KAFKA_LISTENER_NAME_CLIENT_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert values["KAFKA_SSL_CLIENT_AUTH"] == "required"  # brokers and kafka-admin show a certificate
    assert values["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert values["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert set(values["KAFKA_SUPER_USERS"].split(";")) == {"User:kafka-broker", "User:kafka-admin"}
    # The certificates name what the clients dial; only the admin Jobs use the admin certificate.
    certificates = of_kind(docs, "Certificate")
    bootstrap = of_kind(docs, "ConfigMap")["aplypro-config"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert {b.split(":")[0] for b in bootstrap.split(",")} == set(certificates["kafka-broker"]["spec"]["dnsNames"])
    assert all(b.endswith(":9092") for b in bootstrap.split(","))
    users = {name for name, pod in pods(docs).items()
             for v in pod["spec"].get("volumes", []) if v.get("secret", {}).get("secretName") == "kafka-admin-tls"}
    assert users == {"create-topics", "kafka-users-acls"}


# --- PostgreSQL ------------------------------------------------------------------------------------------


def test_every_service_connects_as_its_own_role_and_verifies_the_server(docs: list[Doc]) -> None:
    code = specs()
    certificate = of_kind(docs, "Certificate")["postgres"]["spec"]
    roles = of_kind(docs, "ConfigMap")["postgres-roles"]["data"]["ROLES"].split()
    assert roles == [code[name].schema for name in SERVICES]
    for name in SERVICES:
        (main,) = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        values = env(main, docs)
        url = urlsplit(values["DATABASE_URL"])
        query = parse_qs(url.query)
        assert url.username == code[name].schema, name
        assert url.password is None, name
        assert query["sslmode"] == ["verify-full"], name
        assert query["sslrootcert"][0].startswith(CA_DIR + "/"), name
        assert url.hostname in certificate["dnsNames"], name
        assert values["PGPASSWORD"] == f"secret:aplypro-{name}/PGPASSWORD"
    (job,) = of_kind(docs, "Job")["postgres-roles"]["spec"]["template"]["spec"]["containers"]
    script, job_env = job["args"][0], env(job, docs)
    for name in SERVICES:
        variable = f"PASSWORD_{name.upper().replace('-', '_')}"
        assert f'{code[name].schema}_password="${variable}"' in script
        assert job_env[variable] == f"secret:aplypro-{name}/PGPASSWORD"


def test_postgres_takes_network_connections_over_tls_with_scram_only(docs: list[Doc]) -> None:
    hba = of_kind(docs, "ConfigMap")["postgres-hba"]["data"]["pg_hba.conf"]
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    for rule in rules:
        if rule[0] == "hostssl":
            assert rule[-1] == "scram-sha-256", rule
        elif rule[0] == "host":
            assert rule[-1] == "reject", rule  # plain TCP is refused, never trusted
        else:
            assert rule[0] == "local", rule  # the socket inside the pod
    (container,) = of_kind(docs, "StatefulSet")["postgres"]["spec"]["template"]["spec"]["containers"]
    settings = dict(arg.split("=", 1) for arg in container["args"] if "=" in arg)
    assert settings["ssl"] == "on"
    assert settings["hba_file"] == "/etc/postgresql/hba/pg_hba.conf"


@pytest.fixture
def scratch_database(database_url: str) -> Iterator[str]:
    """A fresh database of the suite's server (roles are per server; roles.sql is idempotent)."""
    name = f"roles_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    import asyncio

    asyncio.run(run(f"CREATE DATABASE {name}"))
    url = urlsplit(database_url)
    try:
        yield url._replace(path=f"/{name}").geturl()
    finally:
        asyncio.run(run(f"DROP DATABASE {name} WITH (FORCE)"))


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{role}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")).geturl()


def _psql() -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql")


async def test_a_service_role_migrates_its_own_schema_and_can_touch_nothing_else(
        docs: list[Doc], scratch_database: str) -> None:
    """roles.sql as the postgres-roles Job runs it, then the servicekit start as two of the roles.

    Fails on the code before it: create_pool ran CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the
    database even for an existing schema, so a role owning only its schema could not start.
    """
    sql = of_kind(docs, "ConfigMap")["postgres-roles"]["data"]["roles.sql"]
    (job,) = of_kind(docs, "Job")["postgres-roles"]["spec"]["template"]["spec"]["containers"]
    variables = re.findall(r"-v (\w+)=", job["args"][0])
    assert "DBNAME" in variables
    database = urlsplit(scratch_database).path.lstrip("/")
    args = [arg for v in variables for arg in ("-v", f"{v}={database if v == 'DBNAME' else 'unused-' + v}")]
    for _ in range(2):  # idempotent: the Job runs on every apply
        done = subprocess.run([_psql(), scratch_database, "-X", "-q", *args], input=sql.encode(),
                              capture_output=True, timeout=60, check=False, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
        assert done.returncode == 0, done.stderr.decode()[-500:]

    pfmp = await create_pool(_as_role(scratch_database, "pfmp"), "pfmp", size=1)
    try:
        assert await migrate(pfmp, "pfmp", ["aplypro_servicekit", "aplypro_pfmp"])
    finally:
        await pfmp.close()
    students_url = _as_role(scratch_database, "students")
    students = await create_pool(students_url, "students", size=1)
    try:
        assert await migrate(students, "students", ["aplypro_servicekit", "aplypro_students"])
        async with students.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval("SELECT count(*) FROM pfmp.schema_migrations")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE SCHEMA intruder")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE public.intruder (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE ROLE intruder")
    finally:
        await students.close()


# --- Network policies ------------------------------------------------------------------------------------


def _selects(policy: Doc, labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = policy["spec"]["podSelector"].get("matchLabels", {})
    return wanted.items() <= labels.items()


def _peers(rules: list[Doc], side: str) -> set[tuple[str, int]]:
    """(peer, port) pairs a list of ingress or egress rules allows; a rule without peers or ports fails."""
    allowed = set()
    for rule in rules:
        assert rule.get(side), f"a rule open to every {side} peer: {rule}"
        assert rule.get("ports"), f"a rule open on every port: {rule}"
        for peer in rule[side]:
            if "ipBlock" in peer:
                assert peer["ipBlock"]["cidr"] not in ("0.0.0.0/0", "::/0"), rule
                name = peer["ipBlock"]["cidr"]
            elif "namespaceSelector" in peer:
                name = "ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            else:
                name = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            allowed |= {(name, int(port["port"])) for port in rule["ports"]}
    return allowed


def _allowed(docs: list[Doc], pod: str, direction: str) -> set[tuple[str, int]]:
    labels = pods(docs)[pod]["metadata"]["labels"]
    side = "to" if direction == "egress" else "from"
    allowed = set()
    for policy in of_kind(docs, "NetworkPolicy").values():
        if policy["metadata"]["name"] != "allow-dns" and _selects(policy, labels):
            allowed |= _peers(policy["spec"].get(direction, []), side)
    return allowed


def test_every_pod_is_denied_by_default_and_may_resolve_names(docs: list[Doc]) -> None:
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns"]["spec"]
    assert dns["podSelector"] == {}
    assert dns["policyTypes"] == ["Egress"]
    assert {(p["protocol"], p["port"]) for p in dns["egress"][0]["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_each_service_reaches_only_kafka_postgres_and_its_own_outside_system(docs: list[Doc]) -> None:
    for name in SERVICES:
        assert _allowed(docs, name, "egress") == {("kafka", 9092), ("postgres", 5432), *OUTSIDE.get(name, ())}, name
        assert _allowed(docs, name, "ingress") == {("ns:monitoring", 9100)}, name


def test_kafka_and_postgres_take_only_their_clients(docs: list[Doc]) -> None:
    kafka_clients = {peer for peer, port in _allowed(docs, "kafka", "ingress") if port == 9092}
    assert kafka_clients == set(SERVICES)
    admin = {peer for peer, port in _allowed(docs, "kafka", "ingress") if port == 9094}
    assert admin == {"kafka", "create-topics", "kafka-users-acls"}
    assert {peer for peer, _ in _allowed(docs, "postgres", "ingress")} == {*SERVICES, "postgres-roles"}
    assert _allowed(docs, "postgres", "egress") == set()
    assert _allowed(docs, "postgres-roles", "egress") == {("postgres", 5432)}
    for job in ("create-topics", "kafka-users-acls"):
        assert _allowed(docs, job, "egress") == {("kafka", 9094)}, job


# --- No credential in the repository ---------------------------------------------------------------------

SECRETISH = re.compile(r"(PASSWORD|PASSWD|TOKEN|SECRET|_KEY$)", re.IGNORECASE)
URL_PASSWORD = re.compile(r"\b\w+://[^/\s:@\"']+:([^@\s\"']+)@")


def test_no_credential_is_committed_under_deploy(docs: list[Doc]) -> None:
    for path in sorted((ROOT / "deploy").rglob("*")):
        if not path.is_file() or path.suffix not in (".yaml", ".yml", ".md", ".sql", ".sh", ".conf", ""):
            continue
        text = path.read_text(errors="replace")
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text), path
        if path.parent == K8S:  # compose's local-only passwords are its own business
            for password in URL_PASSWORD.findall(text):
                assert password in ("CHANGE_ME",) or password.startswith("$"), f"{path}: a password in a URL"
    for doc in docs:
        if doc["kind"] == "Secret":
            assert "data" not in doc
            assert all(value == "CHANGE_ME" for value in doc["stringData"].values()), doc["metadata"]["name"]
        if doc["kind"] == "ConfigMap":
            for key, value in doc["data"].items():
                assert not SECRETISH.search(key), f"{doc['metadata']['name']}.{key}: a secret in a ConfigMap"
                assert "PRIVATE KEY" not in value
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            spec = doc["spec"]["template"]["spec"]
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                for entry in container.get("env", []):
                    if SECRETISH.search(entry["name"]):
                        assert "secretKeyRef" in entry.get("valueFrom", {}), f"{entry['name']} is not from a Secret"
