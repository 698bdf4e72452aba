"""docker-compose.yml, read (no Docker engine runs here): files, commands, variables, ports, and the
settings that must agree between the compose file, the service and the config files it mounts."""

import fnmatch
import json
import re
from collections import Counter
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from wrls_actors.cli import parser
from wrls_actors.config import VARIABLES as JOB_VARIABLES
from wrls_actors.runtime.settings import VARIABLES as RUNTIME_VARIABLES

VARIABLES = RUNTIME_VARIABLES + JOB_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
# Services built from this repository run `wrls-actors <command>` (the Dockerfile's entrypoint).
APP = {name: s for name, s in SERVICES.items() if "build" in s}
# Worker and scheduler serve nothing to probe: they exit when they fail (Dramatiq stops the
# instance when one of its processes dies) and their restart policy starts them again.
NO_ENDPOINT = {"worker", "scheduler"}
# The RabbitMQ cluster's nodes.
RABBITMQ_NODES = sorted(name for name, s in SERVICES.items() if str(s.get("image", "")).startswith("rabbitmq:"))


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def default(name: str) -> str | None:
    return next(v.default for v in VARIABLES if v.name == name)


def setting(service: dict, name: str) -> str | None:
    """What the service reads for WRLS_<name>: the value given, or the documented default."""
    return environment(service).get(f"WRLS_{name}", default(name))


def broker_urls(service: dict) -> list:
    """WRLS_BROKER_URL's URLs (a comma-separated list: every node of the cluster), split."""
    return [urlsplit(url.strip()) for url in setting(service, "BROKER_URL").split(",")]


def bind_mounts(service: dict) -> list[tuple[Path, PurePosixPath]]:
    """(host path, container path) of every file or folder of this repository the service mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume["target"]
        else:
            source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts.append((ROOT / source, PurePosixPath(target)))
    return mounts


def host_path(service: dict, container_path: PurePosixPath) -> Path:
    """The file of this repository a container path is, through the service's mounts."""
    for host, target in sorted(bind_mounts(service), key=lambda m: -len(m[1].parts)):
        if container_path == target or target in container_path.parents:
            return host.joinpath(*container_path.relative_to(target).parts)
    raise AssertionError(f"{container_path} is not mounted from this repository")


def named_volumes(service: dict) -> dict[str, str]:
    """Container path -> named volume."""
    pairs = (v.split(":")[:2] for v in service.get("volumes", []) if isinstance(v, str))
    return {target: source for source, target in pairs if not source.startswith((".", "/"))}


def host_ports(service: dict) -> list[str]:
    """Published host ports: "[ip:]host:container" (a bare container port publishes none chosen here)."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            if "published" in port:
                ports.append(str(port["published"]))
        elif ":" in str(port):
            ports.append(str(port).split(":")[-2])
    return ports


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


# One-shots are what other services wait for to have completed; everything else runs for good.
ONE_SHOTS = {
    dep
    for s in SERVICES.values()
    for dep, condition in depends_on(s).items()
    if condition == "service_completed_successfully"
}
LONG_RUNNING = set(SERVICES) - ONE_SHOTS


def app_services(command: str) -> list[dict]:
    return [s for s in APP.values() if s["command"][0] == command]


def prometheus_config() -> dict:
    return yaml.safe_load(
        host_path(SERVICES["prometheus"], PurePosixPath("/etc/prometheus/prometheus.yml")).read_text()
    )


def dockerfile_instructions(name: str) -> list[str]:
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    return [line.split(None, 1)[1] for line in lines if line.split(None, 1)[:1] == [name]]


def copied_sources() -> list[str]:
    """What the Dockerfile's COPY instructions take from the build context (all but the destination)."""
    return [
        source
        for copy in dockerfile_instructions("COPY")
        for source in [part for part in copy.split() if not part.startswith("--")][:-1]
    ]


def test_every_file_the_compose_file_mounts_or_builds_exists():
    for name, service in SERVICES.items():
        for host, _ in bind_mounts(service):
            assert host.exists(), f"{name}: {host.relative_to(ROOT)} is missing"
    for name, service in APP.items():
        build = service["build"]
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (context / dockerfile).exists(), f"{name}: no {dockerfile} in {context}"
    for source in copied_sources():
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"


def test_every_command_is_a_real_subcommand():
    assert json.loads(dockerfile_instructions("ENTRYPOINT")[-1]) == ["wrls-actors"]
    for name, service in APP.items():
        assert "command" in service, f"{name} would run the image's default command"
        parser().parse_args(service["command"])  # raises SystemExit on an unknown command


def test_every_variable_given_to_the_service_is_documented():
    documented = [re.compile(re.sub(r"<[A-Z]+>", "[A-Z0-9_]+", f"WRLS_{v.name}")) for v in VARIABLES]
    readme = (ROOT / "docs" / "configuration.md").read_text()
    for name, service in APP.items():
        for key in environment(service):
            if key.startswith("WRLS_"):
                assert any(p.fullmatch(key) for p in documented), f"{name}: {key} is not a variable the service reads"
            # The others (AWS_* for boto3) are documented where the variable that needs them is.
            assert key in readme, f"{name}: {key} is not in docs/configuration.md"


def test_the_message_key_is_required_from_the_environment_by_every_process():
    for name, service in APP.items():
        key = environment(service).get("WRLS_MESSAGE_KEY", "")
        assert re.fullmatch(r"\$\{WRLS_MESSAGE_KEY:\?[^}]+\}", key), f"{name}: WRLS_MESSAGE_KEY is {key!r}"


def test_published_ports_do_not_clash():
    ports = [port for service in SERVICES.values() for port in host_ports(service)]
    assert ports and [p for p, n in Counter(ports).items() if n > 1] == []


def test_the_configuration_page_documents_every_variable():
    readme = (ROOT / "docs" / "configuration.md").read_text()
    missing = [v.name for v in VARIABLES if f"WRLS_{v.name}" not in readme]
    assert missing == []


def rabbitmq_conf(node: str, name: str) -> dict[str, str]:
    """A node's conf.d file, as key = value pairs."""
    conf = host_path(SERVICES[node], PurePosixPath("/etc/rabbitmq/conf.d") / name).read_text()
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition("=") for line in conf.splitlines())
        if key.strip() and not key.lstrip().startswith("#")
    )


def test_the_consumer_timeout_agrees_with_rabbitmq():
    # The service refuses time limits and backoffs that reach its setting; RabbitMQ closes the
    # channel of a consumer holding a message longer than its own. They must be the same.
    for node in RABBITMQ_NODES:
        settings = rabbitmq_conf(node, "20-wrls.conf")
        for name, service in APP.items():
            timeout_s = int(setting(service, "RABBITMQ_CONSUMER_TIMEOUT_S"))
            assert int(settings["consumer_timeout"]) == timeout_s * 1000, (node, name)


def test_rabbitmq_enables_the_management_and_prometheus_plugins():
    for node in RABBITMQ_NODES:
        text = host_path(SERVICES[node], PurePosixPath("/etc/rabbitmq/enabled_plugins")).read_text()
        listed = re.fullmatch(r"\s*\[(.*)\]\.\s*", text, re.S)
        assert listed, "enabled_plugins is an Erlang list ending with a dot"
        assert {"rabbitmq_management", "rabbitmq_prometheus"} <= {p.strip() for p in listed.group(1).split(",")}, node


def test_data_lives_in_named_volumes():
    data = {
        **{node: "/var/lib/rabbitmq" for node in RABBITMQ_NODES},
        "postgres": "/var/lib/postgresql/data",
        "minio": "/data",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
    }
    for name, path in data.items():
        volume = named_volumes(SERVICES[name]).get(path)
        assert volume in COMPOSE["volumes"], f"{name}: {path} is not on a declared volume"
    # RabbitMQ keeps its data under its node name, which follows the host name: fixed, and one volume each.
    assert all(SERVICES[node].get("hostname") for node in RABBITMQ_NODES)
    assert len({named_volumes(SERVICES[node])["/var/lib/rabbitmq"] for node in RABBITMQ_NODES}) == len(RABBITMQ_NODES)


def test_the_worker_is_scalable():
    for service in app_services("worker"):
        assert "container_name" not in service and "ports" not in service


def test_the_schema_is_upgraded_once_before_the_processes_start():
    (migrate,) = [name for name, s in APP.items() if s["command"] == ["db", "upgrade"]]
    assert migrate in ONE_SHOTS
    database = urlsplit(setting(APP[migrate], "DATABASE_URL")).hostname
    assert depends_on(APP[migrate])[database] == "service_healthy"
    for name, service in APP.items():
        if name != migrate:
            deps = depends_on(service)
            assert deps.get(migrate) == "service_completed_successfully", name
            assert deps.get(database) == "service_healthy", name
            # Every node: a quorum queue's members are the nodes running when it is declared.
            for url in broker_urls(service):
                assert deps.get(url.hostname) == "service_healthy", (name, url.hostname)


def test_long_running_services_restart_and_are_health_checked():
    for name in LONG_RUNNING:
        service = SERVICES[name]
        assert service.get("restart") in ("unless-stopped", "always"), name
        if name not in APP or service["command"][0] not in NO_ENDPOINT:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ONE_SHOTS:
        # Restarted after it exits, a one-shot would run again and again.
        assert SERVICES[name].get("restart") == "no", name


def test_the_service_uses_the_broker_database_and_object_store_of_this_file():
    postgres, minio = (environment(SERVICES[n]) for n in ("postgres", "minio"))
    for name, service in APP.items():
        env = environment(service)
        # One URL per node of the cluster, each with that node's user.
        brokers = broker_urls(service)
        assert sorted(url.hostname for url in brokers) == sorted(SERVICES[n]["hostname"] for n in RABBITMQ_NODES), name
        for url in brokers:
            (node,) = [n for n in RABBITMQ_NODES if SERVICES[n]["hostname"] == url.hostname]
            rabbitmq = environment(SERVICES[node])
            assert (url.port, url.username, url.password) == (
                5672,
                rabbitmq["RABBITMQ_DEFAULT_USER"],
                rabbitmq["RABBITMQ_DEFAULT_PASS"],
            ), (name, node)
        assert urlsplit(setting(service, "RABBITMQ_MANAGEMENT_URL")).hostname in {url.hostname for url in brokers}
        database = urlsplit(setting(service, "DATABASE_URL"))
        assert (database.hostname, database.username, database.password, database.path) == (
            "postgres",
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            f"/{postgres['POSTGRES_DB']}",
        ), name
        assert urlsplit(setting(service, "S3_ENDPOINT_URL")).hostname == "minio", name
        assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
            minio["MINIO_ROOT_USER"],
            minio["MINIO_ROOT_PASSWORD"],
        ), name


def test_the_buckets_the_service_reads_are_created():
    init = SERVICES["minio-init"]
    assert depends_on(init) == {"minio": "service_healthy"}
    assert "minio-init" in ONE_SHOTS
    buckets = environment(init)["BUCKETS"].split()
    for name, service in APP.items():
        assert setting(service, "NALD_BUCKET") in buckets, name
        assert setting(service, "SERVICE_BUCKET") in buckets, name
    for worker in app_services("worker"):
        assert depends_on(worker).get("minio-init") == "service_completed_successfully"


def test_prometheus_scrapes_the_exporter_and_rabbitmq():
    (exporter_name,) = [name for name, s in APP.items() if s["command"][0] == "exporter"]
    exporter = APP[exporter_name]
    port = setting(exporter, "METRICS_PORT")
    assert setting(exporter, "METRICS_HOST") == "0.0.0.0"  # reachable from the other containers
    assert f"127.0.0.1:{port}/healthz" in " ".join(exporter["healthcheck"]["test"])
    scrapes = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    jobs = {name: [t for c in job["static_configs"] for t in c["targets"]] for name, job in scrapes.items()}
    assert jobs["wrls-exporter"] == [f"{exporter_name}:{port}"]
    # The exporter's series have a `job` label of their own (the WRLS job), which must survive the scrape.
    assert scrapes["wrls-exporter"].get("honor_labels") is True
    # Every node, on the rabbitmq_prometheus plugin's port.
    assert sorted(jobs["rabbitmq"]) == sorted(f"{SERVICES[n]['hostname']}:15692" for n in RABBITMQ_NODES)


def test_prometheus_loads_the_alert_rules():
    prometheus = SERVICES["prometheus"]
    config_dir = PurePosixPath("/etc/prometheus")
    rule_files = [config_dir / path for path in prometheus_config()["rule_files"]]
    assert config_dir / "alerts.yml" in rule_files
    for path in rule_files:
        rules = host_path(prometheus, path)
        assert rules.exists(), f"{path} is {rules.relative_to(ROOT)}, which is missing"
        assert yaml.safe_load(rules.read_text())["groups"], f"{rules.relative_to(ROOT)} has no rule group"


def test_grafana_is_provisioned_from_config():
    grafana = SERVICES["grafana"]
    provisioning = PurePosixPath("/etc/grafana/provisioning")
    dashboards = PurePosixPath("/var/lib/grafana/dashboards")
    assert host_path(grafana, provisioning) == ROOT / "config/grafana/provisioning"
    assert host_path(grafana, dashboards) == ROOT / "config/grafana/dashboards"
    assert list((ROOT / "config/grafana/dashboards").glob("*.json")), "no dashboard to provision"
    sources = yaml.safe_load(host_path(grafana, provisioning / "datasources/prometheus.yml").read_text())
    assert [s["url"].rstrip("/") for s in sources["datasources"]] == ["http://prometheus:9090"]
    providers = yaml.safe_load(host_path(grafana, provisioning / "dashboards/wrls.yml").read_text())
    assert [p["options"]["path"] for p in providers["providers"]] == [str(dashboards)]


def test_no_secret_is_written_in_the_compose_file():
    secrets = [v.name for v in VARIABLES if "Secret:" in v.help]
    assert {"NALD_ZIP_PASSWORD", "NOTIFY_API_KEY"} <= set(secrets)
    for name, service in APP.items():
        env = environment(service)
        for secret in secrets:
            # ${X}, ${X:-} or ${X:?message}: the user's environment (or .env), never a default.
            assert re.fullmatch(rf"\$\{{WRLS_{secret}(:?-|:?\?[^}}]*)?\}}", env[f"WRLS_{secret}"]), f"{name}: {secret}"


def test_the_image_is_built_from_the_package_alone_and_runs_as_a_user():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:  # .dockerignore's rule: the last matching pattern wins
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(path, pattern.lstrip("!").rstrip("/")):
                included = negated
        return included

    for source in copied_sources():
        assert sent(source), f"the Dockerfile copies {source}, which .dockerignore leaves out"
    for private in (".env", ".venv", ".wrls", ".git", ".pytest_cache", "tests"):
        assert not sent(private), f"{private} would be sent to the image build"
    assert dockerfile_instructions("USER")[-1] not in ("root", "0")


def test_the_api_requires_its_token_secret_and_is_published_on_the_import_apps_port():
    api = SERVICES["api"]
    env = environment(api)
    assert api["command"] == ["api"]
    assert re.fullmatch(r"\$\{WRLS_API_JWT_SECRET:\?[^}]+\}", env["WRLS_API_JWT_SECRET"])
    # Inside its container it listens on every interface; the host publishes it on 127.0.0.1 only.
    assert (env["WRLS_API_HOST"], env["WRLS_API_PORT"]) == ("0.0.0.0", "8007")
    assert api["ports"] == ["127.0.0.1:8007:8007"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])


def test_rabbitmq_is_a_cluster_of_three_nodes_that_find_one_another():
    assert len(RABBITMQ_NODES) == 3
    hostnames = [SERVICES[n]["hostname"] for n in RABBITMQ_NODES]
    assert len(set(hostnames)) == 3
    first, *others = RABBITMQ_NODES
    for node in RABBITMQ_NODES:
        conf = rabbitmq_conf(node, "30-cluster.conf")
        assert conf["cluster_formation.peer_discovery_backend"] == "classic_config", node
        listed = {v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.nodes.")}
        assert listed == {f"rabbit@{h}" for h in hostnames}, node
        assert SERVICES[node].get("restart") == "unless-stopped", node
    # The others join the first: started at once, two nodes could each form a cluster of their own.
    for node in others:
        assert depends_on(SERVICES[node]) == {first: "service_healthy"}, node


def test_the_nodes_share_one_erlang_cookie_given_as_a_secret():
    given = {
        n: [s if isinstance(s, str) else s["source"] for s in SERVICES[n].get("secrets", [])] for n in RABBITMQ_NODES
    }
    secret = given[RABBITMQ_NODES[0]][0] if given[RABBITMQ_NODES[0]] else None
    assert secret and all(secrets == [secret] for secrets in given.values()), given
    # From the user's environment (or .env), never a file of this repository nor a value written here.
    assert set(COMPOSE["secrets"][secret]) == {"environment"}
    assert "COOKIE" in COMPOSE["secrets"][secret]["environment"]
    for node in RABBITMQ_NODES:
        service = SERVICES[node]
        assert not any("COOKIE" in key for key in environment(service)), node
        # The image's entrypoint is preceded by one that installs the secret as the node's cookie file.
        script = host_path(service, PurePosixPath(service["entrypoint"][-1])).read_text()
        assert f"/run/secrets/{secret}" in script, node
        assert "exec docker-entrypoint.sh" in script, node
        assert service["command"] == ["rabbitmq-server"], node


def test_the_broker_ports_of_the_nodes_are_published_on_this_machine_only():
    for node in RABBITMQ_NODES:
        ports = SERVICES[node]["ports"]
        assert ports and all(str(p).startswith("127.0.0.1:") for p in ports), node
        assert {str(p).split(":")[-1] for p in ports} == {"5672", "15672"}, node


def test_the_service_runs_on_quorum_queues_on_every_node():
    # A classic queue lives on one node and goes with it; a quorum queue is replicated on the cluster.
    for name, service in APP.items():
        assert setting(service, "RABBITMQ_QUEUE_TYPE") == "quorum", name
        assert len(broker_urls(service)) == len(RABBITMQ_NODES), name
