"""Static checks of deploy/k8s and deploy/compose: every reference resolves, no cluster or Docker needed."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aplypro_contracts.inbound import inbound_topic, rejections_topic
from aplypro_contracts.topics import ALL_TOPICS, dead_letter_topic

from .manifest_acls import INBOUND_PRODUCERS

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
IMAGE = "registry.example/aplypro:0.1.0"
SERVICES = ("students", "pfmp", "calculator", "documents", "asp-gateway")
# The web tier: the schools' web application and the two internal APIs it writes and downloads through.
WEB_TIER = {"web": ["aplypro-pfmp", "web"], "students-api": ["aplypro-students", "api"],
            "documents-api": ["aplypro-documents", "api"]}
# documents-api: one, its batches live in the process's memory.
REPLICAS = {"students": 1, "pfmp": 2, "calculator": 2, "documents": 2, "asp-gateway": 1, "web": 2,
            "students-api": 2, "documents-api": 1}
FILE_DIRS = {"documents": "APLYPRO_DOCUMENTS_STORAGE_DIR", "asp-gateway": "APLYPRO_ASP_OUTBOX_DIR"}
# Our topics with their DLTs, and each outside producer's inbound topic with its DLT and rejections.
TOPICS = sorted([*(t for topic in ALL_TOPICS for t in (topic, dead_letter_topic(topic))),
                 *(t for p in INBOUND_PRODUCERS
                   for t in (inbound_topic(p), dead_letter_topic(inbound_topic(p)), rejections_topic(p)))])
WORKLOADS = ("Deployment", "StatefulSet", "Job")
CLUSTER_SCOPED = ("Namespace", "Kustomization")
TMP = "/tmp"  # noqa: S108 -- the mount point the pods must have, not a file we create

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    found = [doc for path in sorted(K8S.glob("*.y*ml")) for doc in yaml.safe_load_all(path.read_text())]
    assert found, "no manifest under deploy/k8s"
    return [doc for doc in found if doc is not None]


@pytest.fixture(scope="module")
def compose() -> Doc:
    loaded: Doc = yaml.safe_load(COMPOSE.read_text())
    return loaded


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]


def containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def env_of(container: Doc) -> dict[str, str]:
    return {e["name"]: e.get("value", "<ref>") for e in container.get("env", [])}


def resolved_env(container: Doc, docs: list[Doc]) -> dict[str, str]:
    """Variables a container gets, following envFrom and *KeyRef to objects that must exist."""
    maps, secrets = of_kind(docs, "ConfigMap"), of_kind(docs, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= maps[source["configMapRef"]["name"]]["data"]
        else:
            env |= secrets[source["secretRef"]["name"]]["stringData"]
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            env[entry["name"]] = maps[ref["configMapKeyRef"]["name"]]["data"][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            secret = secrets[ref["secretKeyRef"]["name"]]
            env[entry["name"]] = secret["stringData"][ref["secretKeyRef"]["key"]]
        else:
            env[entry["name"]] = entry["value"]
    return env


def quantity(value: str | int) -> float:
    """Bytes of a memory quantity or cores of a CPU quantity."""
    match = re.fullmatch(r"([\d.]+)(m|Ki|Mi|Gi|K|M|G)?", str(value))
    assert match, f"not a quantity: {value}"
    number, unit = match.groups()
    scale = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    return float(number) * scale.get(unit or "", 1)


def image_tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def test_every_manifest_has_an_api_version_a_kind_and_a_name(docs: list[Doc]) -> None:
    for doc in docs:
        assert doc.get("apiVersion"), doc
        assert doc.get("kind"), doc
        assert doc.get("metadata", {}).get("name"), doc
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == "aplypro", doc["metadata"]["name"]
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), "two manifests define the same object"


def test_kustomization_lists_every_manifest_and_nothing_else(docs: list[Doc]) -> None:
    (kustomization,) = of_kind(docs, "Kustomization").values()
    listed = kustomization["resources"]
    on_disk = {p.name for p in K8S.glob("*.y*ml")} - {"kustomization.yaml"}
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk
    assert kustomization["namespace"] == "aplypro"


def test_the_deployments_run_the_five_services_and_the_web_tier_with_their_console_scripts(
        docs: list[Doc]) -> None:
    deployments = of_kind(docs, "Deployment")
    assert sorted(deployments) == sorted([*SERVICES, *WEB_TIER])
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == WEB_TIER.get(name, [f"aplypro-{name}", "run"])
        assert container["image"] == IMAGE
    bin_dir = str(Path(sys.executable).parent)
    for name in SERVICES:
        assert shutil.which(f"aplypro-{name}", path=bin_dir), f"console script aplypro-{name} not installed"


def test_replicas_and_strategies_fit_what_each_service_writes(docs: list[Doc]) -> None:
    for name, deployment in of_kind(docs, "Deployment").items():
        assert deployment["spec"]["replicas"] == REPLICAS[name], name
    # Two gateways must never write payment files side by side.
    assert of_kind(docs, "Deployment")["asp-gateway"]["spec"]["strategy"]["type"] == "Recreate"


def test_every_service_gets_the_broker_and_the_database_from_existing_objects(docs: list[Doc]) -> None:
    for name in SERVICES:
        (container,) = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        env = resolved_env(container, docs)  # a KeyError here is a dangling reference
        assert env["KAFKA_BOOTSTRAP_SERVERS"], name
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        # The address names the role; its password, like the Kafka user's, comes from the service's Secret.
        assert ":" not in env["DATABASE_URL"].split("://", 1)[1].split("@", 1)[0], f"{name}: password in the URL"
        refs = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
        for variable in ("PGPASSWORD", "KAFKA_SASL_PASSWORD"):
            assert refs[variable]["secretKeyRef"]["name"] == f"aplypro-{name}", f"{name}: {variable}"


def test_every_service_is_probed_and_scraped_on_its_ops_port(docs: list[Doc]) -> None:
    for name in SERVICES:
        template = of_kind(docs, "Deployment")[name]["spec"]["template"]
        (container,) = template["spec"]["containers"]
        env = resolved_env(container, docs)
        port = int(env["APLYPRO_OPS_PORT"])
        assert env["APLYPRO_OPS_HOST"] == "0.0.0.0", f"{name}: the kubelet cannot reach 127.0.0.1"  # noqa: S104
        assert {"name": "ops", "containerPort": port} in container["ports"], name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}, name
        # A probe gives up before the next one starts; liveness is slower to act than readiness.
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["timeoutSeconds"] < container[probe]["periodSeconds"], name
        assert container["livenessProbe"]["failureThreshold"] > container["readinessProbe"]["failureThreshold"]
        assert template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics",
        }, name


# Each web-tier process's own ops port setting (APLYPRO_OPS_PORT is the consumers'): servicekit http_ops.py.
WEB_TIER_OPS_PORT = {"web": "APLYPRO_WEB_OPS_PORT", "students-api": "APLYPRO_STUDENTS_API_OPS_PORT",
                     "documents-api": "APLYPRO_DOCUMENTS_API_OPS_PORT"}


def test_the_web_tier_is_scraped_on_its_ops_port(docs: list[Doc]) -> None:
    for name, variable in WEB_TIER_OPS_PORT.items():
        template = of_kind(docs, "Deployment")[name]["spec"]["template"]
        (container,) = template["spec"]["containers"]
        env = resolved_env(container, docs)
        port = int(env[variable])
        assert env["APLYPRO_OPS_HOST"] == "0.0.0.0", f"{name}: Prometheus cannot reach 127.0.0.1"  # noqa: S104
        assert {"name": "ops", "containerPort": port} in container["ports"], name
        assert port not in {p["containerPort"] for p in container["ports"] if p["name"] != "ops"}, name
        assert template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics",
        }, name
        # Logs as the other processes: level and format from the shared ConfigMap.
        assert {"APLYPRO_LOG_LEVEL", "APLYPRO_LOG_JSON"} <= env.keys(), name


def test_every_config_map_and_secret_reference_resolves(docs: list[Doc]) -> None:
    names = {kind: set(of_kind(docs, kind)) for kind in ("ConfigMap", "Secret")}
    # cert-manager writes each Certificate's Secret (tls.yaml).
    names["Secret"] |= {c["spec"]["secretName"] for c in of_kind(docs, "Certificate").values()}
    for workload, pod in pod_specs(docs):
        for container in containers(pod):
            resolved_env(container, docs)
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in names["ConfigMap"], workload["metadata"]["name"]
            if "secret" in volume:
                assert volume["secret"]["secretName"] in names["Secret"], workload["metadata"]["name"]


def test_secrets_are_templates_with_placeholders_only(docs: list[Doc]) -> None:
    secrets = of_kind(docs, "Secret")
    assert {"aplypro-postgres", "aplypro-asp", *(f"aplypro-{name}" for name in SERVICES)} <= set(secrets)
    for name, secret in secrets.items():
        assert "data" not in secret, f"{name}: encoded values do not belong in the template"
        for key, value in secret["stringData"].items():
            assert "CHANGE_ME" in value, f"{name}.{key} looks like a real credential"


def test_every_mounted_claim_exists_and_allows_the_replicas_that_share_it(docs: list[Doc]) -> None:
    claims = of_kind(docs, "PersistentVolumeClaim")
    for workload, pod in pod_specs(docs):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        templates = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        for container in containers(pod):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in templates, mount
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                claim = claims[volume["persistentVolumeClaim"]["claimName"]]
                if workload["spec"].get("replicas", 1) > 1:
                    assert "ReadWriteMany" in claim["spec"]["accessModes"], workload["metadata"]["name"]


def test_file_writing_services_write_into_their_persistent_volume(docs: list[Doc]) -> None:
    deployments = of_kind(docs, "Deployment")
    for name, variable in FILE_DIRS.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        claims = {v["name"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts.get(env_of(container)[variable]) in claims, f"{name}: {variable} is not on a PVC"


def test_service_pods_are_non_root_read_only_and_sized(docs: list[Doc]) -> None:
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == 30, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in containers(pod):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get(TMP) in empty_dirs, f"{name}/{container['name']}: no writable /tmp"
        resources = pod["containers"][0]["resources"]
        for resource in ("cpu", "memory"):
            assert quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]), name
        # Idle RSS is 60-110 MiB; a request below 128 MiB would be overcommitted from the first minute.
        assert quantity(resources["requests"]["memory"]) >= 128 * 2**20, name


def test_every_pod_meets_the_restricted_pod_security_standard(docs: list[Doc]) -> None:
    (namespace,) = of_kind(docs, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload, pod in pod_specs(docs):
        name = workload["metadata"]["name"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context.get("runAsUser") != 0, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("enableServiceLinks") is False, f"{name}: service links leak *_PORT variables"
        assert not any("hostPath" in v for v in pod.get("volumes", [])), name
        for container in containers(pod):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert "ALL" in security["capabilities"]["drop"], name
            assert not security.get("privileged"), name


def test_kafka_is_three_kraft_nodes_with_replication_three_and_min_isr_two(docs: list[Doc]) -> None:
    kafka = of_kind(docs, "StatefulSet")["kafka"]
    assert kafka["spec"]["replicas"] == 3
    headless = of_kind(docs, "Service")[kafka["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True  # the quorum forms before readiness
    (container,) = kafka["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    service = kafka["spec"]["serviceName"]
    assert voters == [f"{i}@kafka-{i}.{service}.aplypro.svc:9093" for i in range(3)]
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "KAFKA_MESSAGE_MAX_BYTES" not in env, "message.max.bytes stays at its 1 MiB default"
    assert [t["metadata"]["name"] for t in kafka["spec"]["volumeClaimTemplates"]] == ["data"]


def test_the_services_reach_the_kafka_pods_and_the_postgres_service(docs: list[Doc]) -> None:
    kafka = of_kind(docs, "StatefulSet")["kafka"]
    service = kafka["spec"]["serviceName"]
    pods = {f"kafka-{i}.{service}.aplypro.svc:9092" for i in range(kafka["spec"]["replicas"])}
    bootstrap = of_kind(docs, "ConfigMap")["aplypro-config"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert set(bootstrap.split(",")) == pods
    (container,) = of_kind(docs, "Deployment")["students"]["spec"]["template"]["spec"]["containers"]
    url = env_of(container)["DATABASE_URL"]
    match = re.search(r"@([^:/]+):(\d+)/", url)
    assert match, url
    host, port = match.groups()
    postgres = of_kind(docs, "Service")[host.split(".")[0]]
    assert int(port) in [p["port"] for p in postgres["spec"]["ports"]]
    assert of_kind(docs, "StatefulSet")["postgres"]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "postgres:16"
    )


def test_every_service_selects_pods_and_pfmp_exposes_8070(docs: list[Doc]) -> None:
    pods = {w["metadata"]["name"]: w["spec"]["template"] for w, _ in pod_specs(docs)}
    for name, service in of_kind(docs, "Service").items():
        selector = service["spec"]["selector"].items()
        selected = [w for w, t in pods.items() if selector <= t["metadata"]["labels"].items()]
        assert selected, f"Service {name} selects no pod"
    (port,) = of_kind(docs, "Service")["pfmp"]["spec"]["ports"]
    (container,) = pods["pfmp"]["spec"]["containers"]
    assert port["port"] == 8070
    assert {"name": port["targetPort"], "containerPort": 8070} in container["ports"]


def test_the_topics_are_created_with_three_replicas_before_any_service_starts(docs: list[Doc]) -> None:
    topics = of_kind(docs, "ConfigMap")["kafka-topics"]["data"]
    shared = of_kind(docs, "ConfigMap")["aplypro-config"]["data"]
    kafka_env = env_of(of_kind(docs, "StatefulSet")["kafka"]["spec"]["template"]["spec"]["containers"][0])
    assert sorted(topics["TOPICS"].split()) == TOPICS
    assert topics["PARTITIONS"] == shared["APLYPRO_TOPIC_PARTITIONS"]
    assert topics["REPLICATION_FACTOR"] == kafka_env["KAFKA_DEFAULT_REPLICATION_FACTOR"]
    assert topics["MIN_INSYNC_REPLICAS"] == kafka_env["KAFKA_MIN_INSYNC_REPLICAS"]
    (job_container,) = of_kind(docs, "Job")["create-topics"]["spec"]["template"]["spec"]["containers"]
    assert set(topics) <= set(resolved_env(job_container, docs))
    for name in SERVICES:
        inits = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"].get("initContainers", [])
        # Each waits for the topics its own user may see (tests/test_manifest_security.py: exactly those).
        waited = [resolved_env(c, docs).get("TOPICS", "").split() for c in inits]
        assert any(w and set(w) <= set(TOPICS) for w in waited), name


def test_the_readme_gives_a_create_command_for_every_topic() -> None:
    text = (K8S / "README.md").read_text().replace("\\\n", " ")
    commands = re.findall(
        r"kafka-topics\.sh .*--create .*--topic (\S+) +--partitions (\d+) --replication-factor (\d+)", text
    )
    assert {topic: (int(p), int(r)) for topic, p, r in commands} == {t: (12, 3) for t in TOPICS}


def test_no_image_floats_on_latest(docs: list[Doc], compose: Doc) -> None:
    images = [c["image"] for _, pod in pod_specs(docs) for c in containers(pod)]
    images += [s["image"] for s in compose["services"].values()]
    dockerfile = (K8S / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", dockerfile, re.MULTILINE))
    for base in re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE):
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base))
    for image in images:
        assert image_tag(image) not in (None, "latest"), f"{image} has no fixed tag"


def test_the_image_installs_the_lockfile_and_runs_as_non_root() -> None:
    dockerfile = (K8S / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    (user,) = re.findall(r"^USER (\d+)(?::\d+)?$", final_stage, re.MULTILINE)
    assert int(user) != 0
    assert "UV_FROZEN=1" in dockerfile
    assert "UV_NO_DEV=1" in dockerfile
    for name in SERVICES:
        assert f"--package aplypro-{name}" in dockerfile
    assert "!uv.lock" in (K8S / "Dockerfile.dockerignore").read_text()


def test_compose_runs_the_five_services_against_its_own_kafka_and_postgres(compose: Doc) -> None:
    services = compose["services"]
    assert set(services) == {*SERVICES, "kafka", "postgres"}
    assert services["postgres"]["image"] == "postgres:16"
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    for name in SERVICES:
        service = services[name]
        assert service["command"] == [f"aplypro-{name}", "run"]
        assert service["image"] == IMAGE
        env = service["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] == "kafka"
        assert re.search(r"@postgres:5432/", env["DATABASE_URL"]), name
        for dependency, condition in service["depends_on"].items():
            assert condition["condition"] == "service_healthy", name
            assert "healthcheck" in services[dependency], dependency


def test_compose_services_mount_only_defined_volumes(compose: Doc) -> None:
    defined = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        mounts = dict(str(v).split(":")[:2] for v in service.get("volumes", []))
        assert set(mounts) <= defined, f"{name} mounts an undefined volume"
        used |= set(mounts)
        if name in FILE_DIRS:
            assert service["environment"][FILE_DIRS[name]] in mounts.values(), f"{name} writes off its volume"
    assert used == defined, "a declared volume is never mounted"


def test_the_web_realm_templates_load_into_the_web_settings(docs: list[Doc], monkeypatch: pytest.MonkeyPatch) -> None:
    from aplypro_pfmp.domain.access import RealmKind
    from aplypro_pfmp.entrypoints.web.settings import WebSettings

    config = of_kind(docs, "ConfigMap")["aplypro-pfmp-web"]["data"]
    secret = of_kind(docs, "Secret")["aplypro-pfmp-web"]["stringData"]
    assert not set(config) & set(secret)
    for name, value in {**config, **secret}.items():
        monkeypatch.setenv(name, value)
    settings = WebSettings()
    realms = settings.login_realms()
    assert {name: realm.kind for name, realm in realms.items()} == {
        "fim": RealmKind.SCHOOL, "cas": RealmKind.SCHOOL, "academique": RealmKind.ACADEMIC, "asp": RealmKind.ASP}
    for name, realm in realms.items():  # every client secret from the Secret, none in the ConfigMap
        assert realm.client_secret.get_secret_value() == "CHANGE_ME", name
        assert f"APLYPRO_WEB_OIDC_REALM__{name.upper()}__CLIENT_SECRET" in secret
    assert settings.session_secret.get_secret_value() == "CHANGE_ME"
    assert settings.authorised_colleges == frozenset()


# --- The web tier ---------------------------------------------------------------------------------------

# Read by the process but not through its settings classes: libpq's password variable (asyncpg reads it) and
# uvicorn's list of trusted proxies.
NOT_SETTINGS = {"PGPASSWORD", "FORWARDED_ALLOW_IPS"}


def _web_tier_settings() -> dict[str, list[type[Any]]]:
    """The settings classes each web-tier process builds from its environment."""
    from aplypro_documents.config import DocumentsSettings
    from aplypro_pfmp.config import PfmpSettings
    from aplypro_pfmp.entrypoints.web.settings import WebSettings
    from aplypro_students.config import StudentsSettings

    return {"web": [PfmpSettings, WebSettings], "students-api": [StudentsSettings],
            "documents-api": [DocumentsSettings]}


def _reads(settings: type[Any], variable: str) -> bool:
    """Whether pydantic-settings fills a field of `settings` from this environment variable."""
    from pydantic import AliasChoices

    config = settings.model_config
    prefix, nested = config.get("env_prefix", ""), config.get("env_nested_delimiter")
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names = ({str(c) for c in alias.choices} if isinstance(alias, AliasChoices)
                 else {alias} if isinstance(alias, str) else {prefix + name})
        if variable.upper() in {n.upper() for n in names}:
            return True
        # A dict of models (the login realms): <prefix><field>__<KEY>__<attribute>.
        if nested and "dict[" in str(field.annotation) and variable.upper().startswith(
                f"{prefix}{name}{nested}".upper()):
            return True
    return False


def _container(docs: list[Doc], name: str) -> Doc:
    (container,) = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    found: Doc = container
    return found


def _http_port(container: Doc) -> int:
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == "http"]
    return int(port)


def test_every_variable_the_web_tier_sets_is_a_setting_its_process_reads(docs: list[Doc]) -> None:
    for name, classes in _web_tier_settings().items():
        for variable in resolved_env(_container(docs, name), docs):
            assert variable in NOT_SETTINGS or any(_reads(c, variable) for c in classes), f"{name}: {variable}"
    # The guard itself: a misspelt or foreign variable is caught.
    from aplypro_pfmp.entrypoints.web.settings import WebSettings

    assert _reads(WebSettings, "APLYPRO_WEB_OIDC_REALM__FIM__ISSUER")
    assert not _reads(WebSettings, "APLYPRO_WEB_STUDENT_API_URL")
    assert not _reads(WebSettings, "KAFKA_BOOTSTRAP_SERVERS")


def test_the_web_tier_uses_no_kafka(docs: list[Doc]) -> None:
    """None of the three processes opens a broker connection (their writes leave through their service's
    outbox): no Kafka setting, no credential, no wait for topics."""
    for name in WEB_TIER:
        pod = of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]
        assert "initContainers" not in pod, name
        assert not [v for v in resolved_env(_container(docs, name), docs) if "KAFKA" in v], name


def test_the_web_tier_settings_load_from_the_manifests_and_point_at_each_other(
        docs: list[Doc], monkeypatch: pytest.MonkeyPatch) -> None:
    from aplypro_documents.config import DocumentsSettings
    from aplypro_pfmp.entrypoints.web.settings import WebSettings
    from aplypro_students.config import StudentsSettings

    services = of_kind(docs, "Service")

    def target(url: str, api: str) -> None:  # a URL the web calls names the API's Service and its port
        match = re.fullmatch(r"http://([a-z-]+)\.aplypro\.svc:(\d+)", url)
        assert match, url
        (port,) = services[match.group(1)]["spec"]["ports"]
        assert match.group(1) == api
        assert int(match.group(2)) == port["port"] == _http_port(_container(docs, api))

    with monkeypatch.context() as patch:
        for key, value in resolved_env(_container(docs, "web"), docs).items():
            patch.setenv(key, value)
        web = WebSettings()
        assert web.host == "0.0.0.0"  # noqa: S104 -- the kubelet and the Service reach the pod IP
        assert web.port == _http_port(_container(docs, "web"))
        assert web.migrate is False  # pfmp_web may not migrate: `aplypro-pfmp run` does
        assert web.cookie_secure is True
        target(web.students_api_url, "students-api")
        target(web.documents_url, "documents-api")
        assert web.students_api_token.get_secret_value() == web.documents_token.get_secret_value() == "CHANGE_ME"
    with monkeypatch.context() as patch:
        for key, value in resolved_env(_container(docs, "students-api"), docs).items():
            patch.setenv(key, value)
        students = StudentsSettings()
        assert (students.api_host, students.api_port) == ("0.0.0.0", _http_port(_container(docs, "students-api")))  # noqa: S104
        assert students.api_token is not None
    with monkeypatch.context() as patch:
        for key, value in resolved_env(_container(docs, "documents-api"), docs).items():
            patch.setenv(key, value)
        documents = DocumentsSettings()
        assert (documents.api_host, documents.api_port) == ("0.0.0.0", _http_port(_container(docs, "documents-api")))  # noqa: S104
        assert documents.api_token is not None


def test_the_web_tier_is_probed_on_routes_its_processes_serve(docs: list[Doc], tmp_path: Path) -> None:
    from aplypro_documents.config import DocumentsSettings
    from aplypro_documents.entrypoints.http_api import create_api as documents_api
    from aplypro_pfmp.entrypoints.web.app import create_app
    from aplypro_pfmp.entrypoints.web.settings import WebSettings
    from aplypro_students.config import StudentsSettings
    from aplypro_students.entrypoints.http_api import create_api as students_api
    from pydantic import SecretStr

    def paths(routes: list[Any]) -> set[str]:  # included routers unfolded
        found = set()
        for route in routes:
            found.add(getattr(route, "path", ""))
            inner = getattr(route, "original_router", None)
            if inner is not None:
                found |= paths(inner.routes)
        return found

    served = {
        "web": paths(create_app(web_settings=WebSettings()).routes),
        "students-api": paths(students_api(StudentsSettings(api_token=SecretStr("t"))).routes),
        "documents-api": paths(documents_api(DocumentsSettings(api_token=SecretStr("t"),
                                                               batch_dir=tmp_path)).routes),
    }
    for name in WEB_TIER:
        container = _container(docs, name)
        for probe in ("livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] in served[name], f"{name}: {probe} on {get['path']}, not a route"
            assert get["port"] == "http", name
            assert container[probe]["timeoutSeconds"] < container[probe]["periodSeconds"], name
        assert container["livenessProbe"]["failureThreshold"] > container["readinessProbe"]["failureThreshold"]
    web = _container(docs, "web")
    assert (web["livenessProbe"]["httpGet"]["path"], web["readinessProbe"]["httpGet"]["path"]) == ("/healthz", "/readyz")


def test_the_web_tier_pods_carry_no_service_account_token(docs: list[Doc]) -> None:
    for name in WEB_TIER:
        assert of_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_documents_api_reads_the_documents_volume_read_only_and_builds_batches_on_scratch(
        docs: list[Doc]) -> None:
    pod = of_kind(docs, "Deployment")["documents-api"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    env = env_of(container)
    storage = mounts[env["APLYPRO_DOCUMENTS_STORAGE_DIR"]]
    writer = of_kind(docs, "Deployment")["documents"]["spec"]["template"]["spec"]
    claim = volumes[storage["name"]]["persistentVolumeClaim"]
    assert claim["claimName"] in {v["persistentVolumeClaim"]["claimName"] for v in writer["volumes"]
                                  if "persistentVolumeClaim" in v}  # the PDFs the documents service writes
    assert storage["readOnly"] is True
    assert claim["readOnly"] is True
    assert "emptyDir" in volumes[mounts[env["APLYPRO_DOCUMENTS_BATCH_DIR"]]["name"]]
    assert not mounts[env["APLYPRO_DOCUMENTS_BATCH_DIR"]].get("readOnly")
