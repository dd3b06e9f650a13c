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
# The web tier (web.yaml, students-api.yaml, documents-api.yaml): each process, its port, its database role and
# the Secret holding that role's password.
WEB_TIER = {"web": (8070, "pfmp_web", "aplypro-pfmp-web"), "students-api": (8071, "students", "aplypro-students"),
            "documents-api": (8072, "documents", "aplypro-documents")}
INGRESS_CONTROLLER = "ns:ingress-nginx"  # the ingress controller's namespace (a placeholder in the manifests)
OIDC_PROVIDERS = {("203.0.113.0/24", 443)}  # the login realms' providers (a placeholder in the manifests)
OPS_PORT = 9100  # /metrics, /healthz, /readyz of every process (configmap.yaml's APLYPRO_OPS_PORT)
MONITORING = ("ns:monitoring", OPS_PORT)  # Prometheus, on the ops port only

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
        if "configMapRef" in source:
            values |= maps[source["configMapRef"]["name"]]["data"]
        else:
            secret = source["secretRef"]["name"]
            values |= {key: f"secret:{secret}/{key}" for key in of_kind(docs, "Secret")[secret]["stringData"]}
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
    assert {peer for peer, _ in _allowed(docs, "postgres", "ingress")} == {*SERVICES, *WEB_TIER, "postgres-roles"}
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


# --- The web tier ----------------------------------------------------------------------------------------


def _workload_labels(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """Every pod this namespace runs, by name, with its labels."""
    return {name: template["metadata"]["labels"] for name, template in pods(docs).items()}


def _peer_admits(peer: Doc, labels: dict[str, str]) -> bool:
    """Whether a NetworkPolicy peer admits a pod of this namespace with these labels. Conservative: what this
    reading cannot decide (expressions, an ipBlock, which may hold pod addresses) counts as admitting it."""
    if "ipBlock" in peer:
        return True
    if "namespaceSelector" in peer:
        namespaces = peer["namespaceSelector"]
        ours = namespaces.get("matchLabels", {}) == {"kubernetes.io/metadata.name": "aplypro"}
        if namespaces and not ours and not namespaces.get("matchExpressions"):
            return False  # only other namespaces
    selector: Doc = peer.get("podSelector", {})
    if selector.get("matchExpressions"):
        return True
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return wanted.items() <= labels.items()


def _admitted_pods(docs: list[Doc], target: str) -> dict[str, set[int | None]]:
    """The pods of this namespace that may connect to `target`'s pods, and on which ports (None: any)."""
    labels = _workload_labels(docs)
    admitted: dict[str, set[int | None]] = {}
    for policy in of_kind(docs, "NetworkPolicy").values():
        if not _selects(policy, labels[target]):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports: set[int | None] = {int(p["port"]) for p in rule.get("ports", [])} or {None}
            for name, pod_labels in labels.items():
                if not rule.get("from") or any(_peer_admits(peer, pod_labels) for peer in rule["from"]):
                    admitted.setdefault(name, set()).update(ports)
    return admitted


def _other_namespaces(docs: list[Doc], target: str) -> set[tuple[str, int | None]]:
    """What reaches `target`'s pods from outside the namespace: (namespace or address or `*`, port or None)."""
    labels = _workload_labels(docs)[target]
    admitted: set[tuple[str, int | None]] = set()
    for policy in of_kind(docs, "NetworkPolicy").values():
        if _selects(policy, labels):
            for rule in policy["spec"].get("ingress", []):
                ports: set[int | None] = {int(p["port"]) for p in rule.get("ports", [])} or {None}
                for peer in rule.get("from") or [{}]:
                    if "namespaceSelector" in peer:
                        chosen = peer["namespaceSelector"].get("matchLabels", {})
                        name = "ns:" + chosen.get("kubernetes.io/metadata.name", "*") if len(chosen) == 1 else "*"
                    elif "ipBlock" in peer:
                        name = peer["ipBlock"]["cidr"]
                    elif peer:
                        continue  # a pod of this namespace: _admitted_pods
                    else:
                        name = "*"  # a rule without peers admits everyone
                    admitted |= {(name, port) for port in ports}
    return admitted


def test_only_the_web_pods_may_reach_the_two_internal_apis(docs: list[Doc]) -> None:
    """Anything else that reached them could enter RIBs or download every PDF with the token it would still
    need, so the network must not even let it try: only the web pods, on the API's port, no other namespace."""
    for api in ("students-api", "documents-api"):
        port = WEB_TIER[api][0]
        assert _admitted_pods(docs, api) == {"web": {port}}, api
        assert _other_namespaces(docs, api) == {MONITORING}, api
    # The guard reads a policy open to every pod as open to every pod.
    open_to_all = {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8071}]}]}
    assert {"web", "pfmp", "kafka"} <= set(_admitted_pods(
        [*docs, {"kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": open_to_all}], "students-api"))


def test_the_web_is_reached_only_from_the_ingress_controller_and_reaches_only_what_it_calls(
        docs: list[Doc]) -> None:
    assert _allowed(docs, "web", "ingress") == {(INGRESS_CONTROLLER, WEB_TIER["web"][0]), MONITORING}
    assert _other_namespaces(docs, "web") == {(INGRESS_CONTROLLER, WEB_TIER["web"][0]), MONITORING}
    assert _admitted_pods(docs, "web") == {}, "no pod of the namespace reaches the web"
    assert _allowed(docs, "web", "egress") == {
        ("students-api", 8071), ("documents-api", 8072), ("postgres", 5432), *OIDC_PROVIDERS}
    for api in ("students-api", "documents-api"):
        assert _allowed(docs, api, "egress") == {("postgres", 5432)}, api
        assert _allowed(docs, api, "ingress") == {("web", WEB_TIER[api][0]), MONITORING}, api
    # No Kafka for any of the three: the brokers do not take them either.
    kafka_clients = {peer for peer, _ in _allowed(docs, "kafka", "ingress")}
    assert not kafka_clients & set(WEB_TIER)


def test_the_ingress_exposes_only_the_web_service_over_tls(docs: list[Doc]) -> None:
    (ingress,) = of_kind(docs, "Ingress").values()
    spec = ingress["spec"]
    backends = [path["backend"] for rule in spec["rules"] for path in rule["http"]["paths"]]
    if "defaultBackend" in spec:
        backends.append(spec["defaultBackend"])
    web = of_kind(docs, "Service")["web"]
    (web_port,) = web["spec"]["ports"]
    assert backends, "the Ingress routes nowhere"
    for backend in backends:
        assert backend["service"]["name"] == "web", backend
        assert backend["service"]["port"] in ({"name": web_port["name"]}, {"number": web_port["port"]}), backend
    hosts = {rule["host"] for rule in spec["rules"]}
    assert all(hosts), "a rule without a host answers for any name"
    assert hosts <= {h for tls in spec["tls"] for h in tls["hosts"]}, "a host without TLS"
    assert all(tls["secretName"] for tls in spec["tls"])
    assert {"cert-manager.io/cluster-issuer", "cert-manager.io/issuer"} & set(ingress["metadata"]["annotations"])
    # Nothing else is reachable from outside the cluster: every Service stays inside it.
    for name, service in of_kind(docs, "Service").items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert not service["spec"].get("externalIPs"), name
    for _, pod in pods(docs).items():
        for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
            assert not any("hostPort" in p for p in container.get("ports", [])), container["name"]
        assert not pod["spec"].get("hostNetwork"), container["name"]


def _ingress_target_ports(docs: list[Doc]) -> set[tuple[str, int | str]]:
    """(Service, the pod port it forwards to) for every backend of every Ingress."""
    services = of_kind(docs, "Service")
    targets: set[tuple[str, int | str]] = set()
    for ingress in of_kind(docs, "Ingress").values():
        spec = ingress["spec"]
        backends = [path["backend"] for rule in spec.get("rules", []) for path in rule.get("http", {}).get("paths", [])]
        backends += [spec["defaultBackend"]] if "defaultBackend" in spec else []
        for backend in backends:
            name, wanted = backend["service"]["name"], backend["service"]["port"]
            for port in services[name]["spec"]["ports"]:
                if wanted in ({"name": port.get("name")}, {"number": port["port"]}):
                    targets.add((name, port.get("targetPort", port["port"])))
    return targets


def _container_port(pod: Doc, port: int | str) -> int:
    for container in pod["spec"]["containers"]:
        for declared in container.get("ports", []):
            if port in (declared.get("name"), declared["containerPort"]):
                return int(declared["containerPort"])
    return int(port)


def test_the_ingress_never_reaches_a_metrics_port(docs: list[Doc]) -> None:
    """The metrics (route counts, login outcomes) are for operators: the Internet reaches the pages' port only,
    and the processes serve /metrics on the ops port alone (tests: services' test_*metrics*)."""
    selectors = {name: s["spec"]["selector"] for name, s in of_kind(docs, "Service").items()}
    targets = _ingress_target_ports(docs)
    assert targets
    for service, target in targets:
        for name, pod in pods(docs).items():
            if selectors[service].items() <= pod["metadata"]["labels"].items():
                scraped = pod["metadata"].get("annotations", {}).get("prometheus.io/port")
                port = _container_port(pod, target)
                assert scraped is not None, f"{name} is not scraped"
                assert port != int(scraped), f"the Ingress reaches {name}'s metrics"
                assert port != OPS_PORT, name
    # The web tier's three processes are scraped on the ops port, which no Service forwards to.
    for name in WEB_TIER:
        pod = pods(docs)[name]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(OPS_PORT), name
        assert {"name": "ops", "containerPort": OPS_PORT} in pod["spec"]["containers"][0]["ports"], name
        for forwarding in of_kind(docs, "Service").values():
            if forwarding["spec"]["selector"].items() <= pod["metadata"]["labels"].items():
                forwarded = {_container_port(pod, p.get("targetPort", p["port"])) for p in forwarding["spec"]["ports"]}
                assert OPS_PORT not in forwarded, name
    # The guard reads an Ingress path to the ops port as reaching the metrics.
    opened = {"kind": "Service", "metadata": {"name": "web-ops"},
              "spec": {"selector": {"app.kubernetes.io/name": "web"}, "ports": [{"name": "ops", "port": 80,
                                                                                 "targetPort": "ops"}]}}
    ingress = {"kind": "Ingress", "metadata": {"name": "x"}, "spec": {"rules": [{"host": "h", "http": {"paths": [
        {"path": "/metrics", "backend": {"service": {"name": "web-ops", "port": {"name": "ops"}}}}]}}]}}
    with pytest.raises(AssertionError, match="reaches web's metrics"):
        test_the_ingress_never_reaches_a_metrics_port([*docs, opened, ingress])


def test_the_web_tier_takes_every_credential_from_a_secret(docs: list[Doc]) -> None:
    maps, secrets = of_kind(docs, "ConfigMap"), of_kind(docs, "Secret")
    for name in WEB_TIER:
        (container,) = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        source: dict[str, str] = {}
        for origin in container.get("envFrom", []):
            if "configMapRef" in origin:
                source |= dict.fromkeys(maps[origin["configMapRef"]["name"]]["data"], "configmap")
            else:
                source |= dict.fromkeys(secrets[origin["secretRef"]["name"]]["stringData"], "secret")
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {})
            source[entry["name"]] = ("secret" if "secretKeyRef" in ref else "configmap" if "configMapKeyRef" in ref
                                     else "literal")
        credentials = {v for v in source if SECRETISH.search(v)}
        assert credentials, name
        assert {v: source[v] for v in credentials} == dict.fromkeys(credentials, "secret"), name
    web = env(of_kind(docs, "Deployment")["web"]["spec"]["template"]["spec"]["containers"][0], docs)
    # Each API's token: one Secret, read by the API and by the web, so the two cannot disagree.
    for api, variable, web_variable in (("students-api", "APLYPRO_STUDENTS_API_TOKEN", "APLYPRO_WEB_STUDENTS_API_TOKEN"),
                                        ("documents-api", "APLYPRO_DOCUMENTS_API_TOKEN", "APLYPRO_WEB_DOCUMENTS_TOKEN")):
        (container,) = of_kind(docs, "Deployment")[api]["spec"]["template"]["spec"]["containers"]
        assert env(container, docs)[variable] == web[web_variable] == f"secret:aplypro-{api}/{variable}"


def test_the_web_tier_connects_with_its_roles_and_verifies_the_server(docs: list[Doc]) -> None:
    certificate = of_kind(docs, "Certificate")["postgres"]["spec"]
    for name, (_, role, secret) in WEB_TIER.items():
        (container,) = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        values = env(container, docs)
        url = urlsplit(values["DATABASE_URL"])
        assert (url.username, url.password) == (role, None), name
        assert parse_qs(url.query)["sslmode"] == ["verify-full"], name
        assert url.hostname in certificate["dnsNames"], name
        assert values["PGPASSWORD"] == f"secret:{secret}/PGPASSWORD", name
    # The Job sets pfmp_web's password from the web's Secret.
    (job,) = of_kind(docs, "Job")["postgres-roles"]["spec"]["template"]["spec"]["containers"]
    assert 'pfmp_web_password="$PASSWORD_PFMP_WEB"' in job["args"][0]
    assert env(job, docs)["PASSWORD_PFMP_WEB"] == "secret:aplypro-pfmp-web/PGPASSWORD"


async def test_the_web_role_reads_and_writes_pfmp_rows_but_cannot_change_the_schema(
        docs: list[Doc], scratch_database: str) -> None:
    """roles.sql as the Job runs it; pfmp migrates as its role; then pfmp_web, the web application's role: every
    pfmp table readable and writable, now and after a later migration, but no DDL, no TRUNCATE, no migration,
    nothing of another schema; and the web's readiness check sees pfmp's migrations through it."""
    from aplypro_pfmp.entrypoints.web.health import MIGRATION_PACKAGES, applied_migrations
    from aplypro_servicekit.ops import expected_migrations

    sql = of_kind(docs, "ConfigMap")["postgres-roles"]["data"]["roles.sql"]
    (job,) = of_kind(docs, "Job")["postgres-roles"]["spec"]["template"]["spec"]["containers"]
    database = urlsplit(scratch_database).path.lstrip("/")
    variables = re.findall(r"-v (\w+)=", job["args"][0])
    args = [arg for v in variables for arg in ("-v", f"{v}={database if v == 'DBNAME' else 'unused-' + v}")]
    done = subprocess.run([_psql(), scratch_database, "-X", "-q", *args], input=sql.encode(), capture_output=True,
                          timeout=60, check=False, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    assert done.returncode == 0, done.stderr.decode()[-500:]
    pfmp = await create_pool(_as_role(scratch_database, "pfmp"), "pfmp", size=1)
    students = await create_pool(_as_role(scratch_database, "students"), "students", size=1)
    try:
        await migrate(pfmp, "pfmp", MIGRATION_PACKAGES)
        await migrate(students, "students", ["aplypro_servicekit", "aplypro_students"])
    finally:
        await students.close()
    web = await create_pool(_as_role(scratch_database, "pfmp_web"), "pfmp", size=1)
    try:
        assert await applied_migrations(web) == expected_migrations(MIGRATION_PACKAGES)
        async with web.acquire() as conn:
            lacking = await conn.fetch(
                "SELECT c.relname, p.privilege FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
                "unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p(privilege) "
                "WHERE n.nspname = 'pfmp' AND c.relkind IN ('r', 'p') AND NOT has_table_privilege(c.oid, p.privilege)")
            assert lacking == []
            assert not await conn.fetchval(
                "SELECT bool_or(has_table_privilege(c.oid, 'TRUNCATE')) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pfmp' AND c.relkind = 'r'")
            for statement in ("CREATE TABLE pfmp.intruder (id int)", "DROP TABLE pfmp.schema_migrations",
                              "ALTER TABLE pfmp.schema_migrations ADD COLUMN x int", "TRUNCATE pfmp.schema_migrations",
                              "SELECT count(*) FROM students.schema_migrations", "CREATE SCHEMA intruder",
                              "CREATE TEMP TABLE intruder (id int)"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # migrating is `aplypro-pfmp run`'s job
            await migrate(web, "pfmp", MIGRATION_PACKAGES)
        async with pfmp.acquire() as conn:  # a later migration's table, created by pfmp
            await conn.execute("CREATE TABLE later (id bigint GENERATED ALWAYS AS IDENTITY, note text)")
        async with web.acquire() as conn:
            await conn.execute("INSERT INTO later (note) VALUES ('written by the web')")
            assert await conn.fetchval("SELECT count(*) FROM later") == 1
    finally:
        await web.close()
        await pfmp.close()
