"""A RabbitMQ node of a three-node cluster stopped under a running fan-out on quorum queues: the
node leading the fan-out's queue goes, the queues' other members carry on, nothing is lost and no
child's effect happens twice, the 15-second schedule keeps ticking, and the node comes back into
a whole cluster.

The cluster is this machine's second RabbitMQ (tests/support/cluster.py): three nodes on ports of
their own, started for this module and stopped after it. The machine's own RabbitMQ is not used,
so the test runs beside the others (not `exclusive`), but it is heavy: `slow`.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import process_env
from tests.faults.fan_out import check_fan_out, effects, wait_effects
from tests.support import cluster as rabbitmq_cluster
from tests.support import services as svc
from tests.support.helpers import query

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

CHILDREN = 5000
# Ports 5710-5793 (AMQP), 15710-15793 (management), 25710-25793 (distribution): clear of the machine's
# RabbitMQ and of scripts/rabbitmq_cluster.sh's cluster (5701-5703); the first set all free is taken.
PORT_BASES = range(5710, 5800, 10)


def free_base() -> int:
    for base in PORT_BASES:
        ports = [base + offset + i for offset in (0, 10000, 20000) for i in range(1, rabbitmq_cluster.SIZE + 1)]
        if not any(rabbitmq_cluster.port_open(port) for port in ports):
            return base
    raise AssertionError(f"no free ports for a test cluster at any of {list(PORT_BASES)}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not rabbitmq_cluster.installed():
        message = "RabbitMQ is not installed: the cluster test starts nodes of its own"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = free_base()
    nodes = rabbitmq_cluster.Cluster(
        tmp_path_factory.mktemp("rabbitmq-cluster"), prefix=f"wrls-test{base}-n", amqp_base=base
    )
    try:
        took = nodes.start()
        print(f"cluster of {rabbitmq_cluster.SIZE} nodes started in {took:.0f}s")
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def vhost(cluster):
    """The test's virtual host, on the cluster (the whole cluster goes when the module ends)."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    cluster.create_vhost(name)
    return name


@pytest.fixture
def env(database, vhost, cluster, request):
    marker = request.node.get_closest_marker("schedules")
    return {
        **process_env(database, vhost, marker.args[0] if marker else ""),
        "WRLS_BROKER_URL": cluster.broker_url(vhost),
        "WRLS_RABBITMQ_QUEUE_TYPE": "quorum",
        "WRLS_RABBITMQ_MANAGEMENT_URL": f"http://guest:guest@127.0.0.1:{cluster.nodes[0].management_port}",
    }


def consumers(cluster, vhost: str, queue: str) -> int:
    return cluster.queue(vhost, queue).get("consumers", 0)


def members_online(cluster, vhost: str) -> list[str]:
    """The vhost's queues whose members are not all three nodes, all online (empty: all are)."""
    names = sorted(node.name for node in cluster.nodes)
    return [
        q["name"]
        for q in cluster.queues(vhost)
        if sorted(q.get("members", [])) != names or sorted(q.get("online", [])) != names
    ]


def ticks_since(service, since: datetime):
    """The 15-second schedule's ticks from ``since``, with their run's status and note (a failed run's
    note says why, so an assertion that shows the ticks shows it)."""
    return query(
        service,
        """
        SELECT t.nominal_time, t.outcome, r.status, r.note FROM jobs.ticks t LEFT JOIN jobs.runs r ON r.run_id = t.run_id
        WHERE t.schedule = 'noop' AND t.nominal_time > :t ORDER BY t.nominal_time""",
        t=since,
    )


@pytest.mark.schedules("noop")
def test_the_node_leading_the_fan_outs_quorum_queue_stopped_the_fan_out_ends_once_and_ticks_go_on(
    cluster, service, processes, vhost, tally
):
    # One thread each: the fan-out lasts past the node's stop (at four threads most of it would be over
    # in the five seconds a graceful stop takes).
    for _ in range(2):
        processes("worker", extra_env={"WRLS_WORKER_THREADS": "1"})
    svc.wait_for(lambda: consumers(cluster, vhost, "long") > 0, 40, what="a worker consuming long")
    scheduler = processes("scheduler")
    queue = cluster.queue(vhost, "long")
    assert queue["type"] == "quorum" and len(queue["members"]) == rabbitmq_cluster.SIZE, queue
    # Found before the fan-out starts (a leader changes only when its node goes): the children run at
    # hundreds a second, and the node must go while most of them are still to come.
    leader = cluster.leader(vhost, "long")
    run_id = service.trigger("fan-steady", {"n": CHILDREN})
    wait_effects(service, run_id, CHILDREN // 10)

    cut_off = {}
    cluster.stop_node(
        leader.index, on_closed=lambda: cut_off.update(at=datetime.now(UTC), done=effects(service, run_id))
    )
    done_at_stop = effects(service, run_id)
    tally.faults.append(
        f"{leader.name} (leader of queue long) stopped: its clients cut off at child {cut_off['done']}, "
        f"its process gone at child {done_at_stop}"
    )

    # While the node is away: another member leads the queue, the fan-out went on after the node's
    # clients were cut off, and a tick that fell after they were cut off starts a run that succeeds.
    queue = cluster.queue(vhost, "long")
    assert queue["leader"] != leader.name and leader.name not in queue["online"], queue
    assert done_at_stop > cut_off["done"]
    svc.wait_for(
        lambda: any(t.status == "succeeded" for t in ticks_since(service, cut_off["at"])),
        90,
        interval_s=1,
        what="a tick after the node stopped whose run succeeded",
    )
    assert not cluster.running(leader)
    restarted_at = datetime.now(UTC)
    done_at_restart = effects(service, run_id)
    cluster.start_node(leader.index)
    tally.faults.append(f"{leader.name} started again at child {done_at_restart}")

    check_fan_out(service, run_id, tally, CHILDREN, timeout_s=600)
    # Every tick of the outage started on time or late (none missed, none skipped) and its run succeeded.
    outage = svc.wait_for(
        lambda: (lambda ticks: ticks if ticks and all(t.status != "running" for t in ticks) else None)(
            [t for t in ticks_since(service, cut_off["at"]) if t.nominal_time <= restarted_at]
        ),
        60,
        interval_s=1,
        what="the runs of the outage's ticks to end",
    )
    assert all(t.outcome in ("started", "late") and t.status == "succeeded" for t in outage), outage
    assert scheduler.alive()

    # The cluster is whole again: the three nodes running together, every queue's members all online.
    svc.wait_for(cluster.whole, 60, interval_s=1, what="the three nodes running in one cluster")
    svc.wait_for(lambda: not members_online(cluster, vhost), 120, interval_s=1, what="every queue's members online")
