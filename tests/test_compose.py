"""docker-compose.yml, read (no Docker engine runs here): files, commands, variables, ports."""

from collections import Counter
from pathlib import Path

import yaml

from wrls_actors.cli import parser
from wrls_actors.config import VARIABLES as JOB_VARIABLES
from wrls_actors.runtime.settings import VARIABLES as RUNTIME_VARIABLES

VARIABLES = RUNTIME_VARIABLES + JOB_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_file_the_compose_file_mounts_or_builds_exists():
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists()


def test_every_command_is_a_real_subcommand():
    for name, service in COMPOSE["services"].items():
        if "build" in service:
            parser().parse_args(service["command"])  # raises SystemExit on an unknown command


def test_every_variable_given_to_the_service_is_documented():
    documented = {f"WRLS_{v.name}" for v in VARIABLES}
    readme = (ROOT / "README.md").read_text()
    for name, service in COMPOSE["services"].items():
        for key in service.get("environment", {}) if "build" in service else ():
            if key.startswith("WRLS_"):
                assert key in documented and key in readme, f"{name}: {key} is not documented"


def test_published_ports_do_not_clash():
    ports = [p.split(":")[0] for s in COMPOSE["services"].values() for p in s.get("ports", [])]
    assert ports and [p for p, n in Counter(ports).items() if n > 1] == []


def test_the_readme_documents_every_variable():
    readme = (ROOT / "README.md").read_text()
    missing = [v.name for v in VARIABLES if f"WRLS_{v.name}" not in readme]
    assert missing == []
