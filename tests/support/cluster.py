"""A RabbitMQ cluster of three nodes on this machine, beside (never touching) its own RabbitMQ.

Each node has its own name (``rabbit-c1@localhost``...), its own AMQP, management and
distribution ports, and its own data, log and pid files under a folder the caller gives. The
nodes share an Erlang cookie through a HOME of their own (``<folder>/home/.erlang.cookie``): the
machine's node keeps its cookie, and its configuration in /etc/rabbitmq is never read (each node
gets an empty ``RABBITMQ_CONF_ENV_FILE`` and a config file of its own). Node 1 starts the
cluster; nodes 2 and 3 join it with ``rabbitmqctl stop_app / join_cluster / start_app``.

Used by ``scripts/rabbitmq_cluster.sh`` (``python -m tests.support.cluster``) and by the cluster
fault test (tests/faults/test_cluster.py).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

SIZE = 3
PREFIX = "rabbit-c"
AMQP_BASE = 5700  # node N listens on AMQP_BASE + N, its management API 10000 above, its distribution 20000 above
CREDENTIALS = base64.b64encode(b"guest:guest").decode()
# Must agree with config/rabbitmq/rabbitmq.conf and the service's WRLS_RABBITMQ_CONSUMER_TIMEOUT_S default.
CONSUMER_TIMEOUT_MS = 1_800_000
# Two cores run three nodes, the service and PostgreSQL: one scheduler thread per node, few async threads.
ERL_ARGS = "+S 1:1 +A 4 -kernel inet_dist_use_interface {127,0,0,1}"
BOOT_TIMEOUT_S = 120
# The script's cluster, in the repository's folder of local state (git ignores it).
DEFAULT_DIR = Path(__file__).resolve().parents[2] / ".wrls" / "rabbitmq-cluster"


class ClusterError(Exception):
    """A node would not start, stop or join; the message names the node and the command's output."""


def _bin(command: str) -> str:
    """RabbitMQ's own scripts. Debian's /usr/sbin ones are a wrapper that switches to the `rabbitmq`
    user and its HOME (the machine's cookie and data), so the real ones behind it are used."""
    debian = Path("/usr/lib/rabbitmq/bin") / command
    if debian.exists():
        return str(debian)
    found = shutil.which(command)
    if found is None:
        raise ClusterError(f"{command} is not installed: the cluster needs RabbitMQ's own scripts")
    return found


def installed() -> bool:
    try:
        _bin("rabbitmq-server")
        _bin("rabbitmqctl")
    except ClusterError:
        return False
    return True


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclasses.dataclass(frozen=True)
class Node:
    index: int
    name: str
    amqp_port: int
    management_port: int
    dist_port: int
    folder: Path

    @property
    def management_api(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/api"


class Cluster:
    def __init__(self, folder: Path, prefix: str = PREFIX, amqp_base: int = AMQP_BASE, size: int = SIZE) -> None:
        self.folder = Path(folder).resolve()
        self.home = self.folder / "home"
        self.nodes = [
            Node(
                index=i,
                name=f"{prefix}{i}@localhost",
                amqp_port=amqp_base + i,
                management_port=amqp_base + 10000 + i,
                dist_port=amqp_base + 20000 + i,
                folder=self.folder / f"{prefix}{i}",
            )
            for i in range(1, size + 1)
        ]

    def node(self, index: int) -> Node:
        if not 1 <= index <= len(self.nodes):
            raise ClusterError(f"there is no node {index}: nodes are 1 to {len(self.nodes)}")
        return self.nodes[index - 1]

    def by_name(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ClusterError(f"{name} is not a node of this cluster")

    # -- files and environment --------------------------------------------------------------------

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            # Made readable by its owner alone from the start (Erlang refuses a cookie others can read, and
            # whoever reads it controls the nodes).
            descriptor = os.open(cookie, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o400)
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(20).upper())
        (self.folder / "rabbitmq-env.conf").write_text("# empty: /etc/rabbitmq/rabbitmq-env.conf is not read\n")
        (self.folder / "enabled_plugins").write_text("[rabbitmq_management].\n")
        for node in self.nodes:
            for sub in ("mnesia", "log", "schema"):
                (node.folder / sub).mkdir(parents=True, exist_ok=True)
            (node.folder / "rabbitmq.conf").write_text(
                "\n".join(
                    [
                        f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}",
                        "management.tcp.ip = 127.0.0.1",
                        f"management.tcp.port = {node.management_port}",
                        f"consumer_timeout = {CONSUMER_TIMEOUT_MS}",
                        # A node cut off from the other two stops serving rather than diverging.
                        "cluster_partition_handling = pause_minority",
                        "log.console = false",
                        "log.file.level = info",
                        "",
                    ]
                )
            )

    def env(self, node: Node) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return {
            **keep,
            "HOME": str(self.home),
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(node.amqp_port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_CONFIG_FILE": str(node.folder / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.folder / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(node.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.folder / "log"),
            "RABBITMQ_SCHEMA_DIR": str(node.folder / "schema"),
            "RABBITMQ_PID_FILE": str(node.folder / "rabbit.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": ERL_ARGS,
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    # -- commands ---------------------------------------------------------------------------------

    def ctl(self, node: Node, *args: str, timeout_s: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        """``rabbitmqctl -n NODE ARGS``, with the cluster's cookie."""
        done = subprocess.run(
            [_bin("rabbitmqctl"), "-n", node.name, *args],
            env=self.env(node),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if check and done.returncode != 0:
            raise ClusterError(
                f"{node.name}: rabbitmqctl {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}"
            )
        return done

    def running(self, node: Node) -> bool:
        return self.ctl(node, "ping", "--timeout", "5", timeout_s=30, check=False).returncode == 0

    def _launch(self, node: Node) -> None:
        """``rabbitmq-server -detached``: returns before the node has booted."""
        if self.running(node):
            return
        for port in (node.amqp_port, node.management_port, node.dist_port):
            if port_open(port):
                raise ClusterError(f"{node.name}: port {port} is already taken by something else")
        log = open(node.folder / "log" / "start.log", "ab")
        with log:
            subprocess.run(
                [_bin("rabbitmq-server"), "-detached"],
                env=self.env(node),
                cwd=node.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=60,
                check=False,
            )

    def _await(self, node: Node) -> None:
        """Wait for the pid file, then for the node's application to be up."""
        done = self.ctl(
            node,
            "wait",
            "--timeout",
            str(BOOT_TIMEOUT_S * 1000),
            str(node.folder / "rabbit.pid"),
            timeout_s=BOOT_TIMEOUT_S + 30,
            check=False,
        )
        if done.returncode != 0:
            raise ClusterError(
                f"{node.name} did not start within {BOOT_TIMEOUT_S}s "
                f"(its log: {node.folder / 'log'}): {(done.stderr or done.stdout).strip()}"
            )
        _wait(lambda: port_open(node.management_port), 60, f"{node.name}'s management API")

    def members(self, node: Node) -> set[str]:
        """The nodes ``node`` counts as members of its cluster (running or not)."""
        status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json").stdout)
        return set(status.get("disk_nodes", [])) | set(status.get("ram_nodes", []))

    def start(self) -> float:
        """Start every node (all at once: a restarted cluster's nodes wait for one another), join the
        ones not yet in node 1's cluster. Returns the seconds it took."""
        began = time.monotonic()
        self._prepare()
        for node in self.nodes:
            self._launch(node)
        for node in self.nodes:
            self._await(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            if first.name not in self.members(node):
                self.ctl(node, "stop_app")
                self.ctl(node, "join_cluster", first.name)
                self.ctl(node, "start_app", timeout_s=BOOT_TIMEOUT_S)
        _wait(self.whole, 60, "every node running in one cluster")
        return time.monotonic() - began

    def stop(self) -> None:
        """Stop every node, all at once (one after another takes three times as long: each spends
        about 5 s stopping its management statistics). `start` starts them all at once too, as
        nodes that stopped together wait for one another when they start."""
        threads = [threading.Thread(target=self.stop_node, args=(node.index,)) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        still = [node.name for node in self.nodes if port_open(node.amqp_port)]
        if still:
            raise ClusterError(f"still running after stop: {', '.join(still)}")

    def stop_node(self, index: int, on_closed: Callable[[], None] | None = None) -> None:
        """A graceful stop (``rabbitmqctl shutdown``: returns once the node's process has exited).

        ``on_closed`` is called as soon as the node's AMQP listener is gone (its clients are cut off
        then, some seconds before the node has finished stopping)."""
        node = self.node(index)
        # Straight to it (no ping first): a test stops a node at a chosen moment.
        shutdown = subprocess.Popen(
            [_bin("rabbitmqctl"), "-n", node.name, "shutdown"],
            env=self.env(node),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait(
            lambda: not port_open(node.amqp_port) or shutdown.poll() is not None,
            120,
            f"{node.name}'s listener to close",
            interval_s=0.1,
        )
        if on_closed is not None:
            on_closed()
        output, _ = shutdown.communicate(timeout=120)
        if shutdown.returncode != 0 and self.running(node):
            raise ClusterError(f"{node.name}: rabbitmqctl shutdown failed: {output.strip()}")
        _wait(lambda: not port_open(node.amqp_port), 60, f"{node.name} to stop")

    def start_node(self, index: int) -> None:
        """Start a node that was stopped: it rejoins its cluster by itself."""
        node = self.node(index)
        self._prepare()
        self._launch(node)
        self._await(node)

    def whole(self) -> bool:
        """Every node running, and every one of them in one cluster."""
        names = {n.name for n in self.nodes}
        for node in self.nodes:
            if not self.running(node):
                return False
            status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json").stdout)
            if set(status.get("running_nodes", [])) != names:
                return False
        return True

    def status(self) -> list[dict]:
        rows = []
        for node in self.nodes:
            row: dict = {"node": node.name, "amqp": node.amqp_port, "management": node.management_port}
            row["running"] = self.running(node)
            if row["running"]:
                status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json").stdout)
                row["running_nodes"] = sorted(status.get("running_nodes", []))
            rows.append(row)
        return rows

    # -- clients ----------------------------------------------------------------------------------

    def broker_url(self, vhost: str) -> str:
        """Every node's AMQP URL for ``vhost``, comma-separated (WRLS_BROKER_URL)."""
        return ",".join(f"amqp://guest:guest@127.0.0.1:{n.amqp_port}/{quote(vhost, safe='')}" for n in self.nodes)

    def management(self, method: str, path: str, body: dict | None = None, timeout_s: float = 10):
        """The management API of the first node that answers."""
        error: Exception | None = None
        for node in self.nodes:
            if not port_open(node.management_port):
                continue
            request = urllib.request.Request(
                f"{node.management_api}{path}",
                method=method,
                data=None if body is None else json.dumps(body).encode(),
            )
            request.add_header("Authorization", f"Basic {CREDENTIALS}")
            request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=timeout_s) as response:
                    payload = response.read()
                    return json.loads(payload) if payload else None
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, OSError) as e:
                error = e
        raise ClusterError(f"no node's management API answered {method} {path}: {error}")

    def create_vhost(self, name: str) -> None:
        self.management("PUT", f"/vhosts/{quote(name, safe='')}", {})
        self.management(
            "PUT", f"/permissions/{quote(name, safe='')}/guest", {"configure": ".*", "write": ".*", "read": ".*"}
        )

    def queue(self, vhost: str, name: str) -> dict:
        try:
            return self.management("GET", f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return {}
            raise

    def queues(self, vhost: str) -> list[dict]:
        return self.management("GET", f"/queues/{quote(vhost, safe='')}")

    def leader(self, vhost: str, queue: str) -> Node:
        """The node leading a quorum queue (or holding a classic one)."""
        info = self.queue(vhost, queue)
        name = info.get("leader") or info.get("node")
        if not name:
            raise ClusterError(f"queue {queue} of {vhost} has no leader: {info}")
        return self.by_name(name)


def _wait(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rabbitmq_cluster.sh",
        description="A 3-node RabbitMQ cluster on this machine (AMQP 5701-5703, management 15701-15703).",
    )
    parser.add_argument(
        "--dir", default=DEFAULT_DIR, type=Path, help=f"where the nodes keep everything ({DEFAULT_DIR})"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start the three nodes and join 2 and 3 to 1")
    commands.add_parser("stop", help="stop every node (data kept under --dir)")
    commands.add_parser("status", help="each node: running, and the nodes it sees running")
    for name in ("stop-node", "start-node"):
        command = commands.add_parser(name, help=f"{name.replace('-', ' ')} N (1 to {SIZE})")
        command.add_argument("n", type=int)
    args = parser.parse_args(argv)
    if not installed():
        print("rabbitmq_cluster: RabbitMQ is not installed (rabbitmq-server, rabbitmqctl)", file=sys.stderr)
        return 2
    cluster = Cluster(args.dir)
    try:
        if args.command == "start":
            took = cluster.start()
            print(f"cluster started in {took:.0f}s under {cluster.folder}")
            print(f"WRLS_BROKER_URL={cluster.broker_url('/')}")
        elif args.command == "stop":
            cluster.stop()
        elif args.command == "stop-node":
            cluster.stop_node(args.n)
        elif args.command == "start-node":
            cluster.start_node(args.n)
        if args.command in ("status", "start", "stop-node", "start-node"):
            for row in cluster.status():
                print(json.dumps(row))
    except ClusterError as e:
        print(f"rabbitmq_cluster: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
