"""Quorum queues (the ledger's delivery limit counting starts, RabbitMQ's a backstop above it, retries through the delay queue, fan-out),
the start-up refusal of queues declared otherwise, and a broker URL list whose first node is dead."""

import socket
import threading
from contextlib import contextmanager

import pika
import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.processes import run_cli
from tests.support.sample_app import build
from wrls_actors.runtime.dead_letters import list_dead_letters
from wrls_actors.runtime.rabbitmq import BACKSTOP


@pytest.fixture
def env(env):
    return {**env, "WRLS_RABBITMQ_QUEUE_TYPE": "quorum"}


@contextmanager
def own_service(settings: dict):
    """The sample service in the test process, with settings of the test's own."""
    service = build(settings)
    try:
        yield service
    finally:
        service.ledger.close()
        service.broker.close()


def take_and_return(vhost: str, queue: str) -> int | None:
    """Take the first message of ``queue`` and put it back unacknowledged: its x-delivery-count when taken."""
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        method, properties, _ = connection.channel().basic_get(queue, auto_ack=False)
        return None if method is None else properties.headers["x-delivery-count"]
    finally:
        connection.close()


def dead_letter_headers(vhost: str, queue: str) -> list[dict]:
    """The headers of every message in ``queue``'s dead-letter queue, each put back."""
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        found = []
        while True:
            method, properties, _ = channel.basic_get(queue + ".XQ", auto_ack=False)
            if method is None:
                return found
            found.append(properties.headers or {})
    finally:
        connection.close()


def test_on_quorum_queues_a_retry_waits_in_the_delay_queue_and_a_fan_out_completes(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "short")
    patient = service.trigger("patient")
    fan = service.trigger("fan", {"n": 5})
    assert wait_run_ended(service, patient).status == "succeeded"
    assert wait_run_ended(service, fan).status == "succeeded"
    assert scalar(service, "SELECT attempt FROM jobs.steps WHERE actor = 'patient.wait'") == 3
    assert scalar(service, "SELECT count(*) FROM jobs.barrier_arrivals WHERE run_id = :r AND NOT failed", r=fan) == 5
    for queue in ("short", "long"):
        main, delay, dead = (svc.queue_stats(vhost, queue + suffix) for suffix in ("", ".DQ", ".XQ"))
        assert (main["type"], delay["type"], dead["type"]) == ("quorum", "quorum", "quorum")
        # The broker's backstop above the ledger's limit on the queue; none on the delay queue, whose held messages a restart returns.
        assert main["arguments"]["x-delivery-limit"] == 3 + BACKSTOP
        assert "x-delivery-limit" not in delay["arguments"] and "x-delivery-limit" not in dead["arguments"]


def test_on_quorum_queues_only_starts_count_a_message_returned_unstarted_still_runs(service, processes, vhost):
    """RabbitMQ before 4.3 counts every return, also of a message a stopped worker had prefetched and never
    started: such returns must not make the ledger refuse it, nor the broker drop it."""
    run_id = service.trigger("noop")
    svc.wait_for(lambda: svc.queue_stats(vhost, "short").get("messages"), 10, what="the step in short")
    # More returns than WRLS_MAX_DELIVERIES (3), each counted by RabbitMQ.
    assert [take_and_return(vhost, "short") for _ in range(4)] == [0, 1, 2, 3]
    processes("worker")
    assert wait_run_ended(service, run_id).status == "succeeded"
    assert scalar(service, "SELECT deliveries FROM jobs.steps WHERE actor = 'noop.work'") == 1
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind IN ('redelivered', 'dead-lettered')") == 0


def test_a_poison_message_on_a_quorum_queue_is_dead_lettered_once_by_the_ledger(env, processes, vhost):
    limit = {"WRLS_MAX_DELIVERIES": "1"}
    # Every process the same: whichever declares a quorum queue first sets its limit for all.
    with own_service({**env, **limit}) as service:
        first = processes("worker", extra_env=limit)
        run_id = service.trigger("crasher")
        svc.wait_for(
            lambda: scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'work'") == 1,
            what="the crasher's first delivery to run",
        )
        # Its worker process is dead; its main process would wait for Dramatiq's fork timeout before exiting.
        first.stop()
        processes("worker", extra_env=limit)
        run = wait_run_ended(service, run_id)
        assert run.status == "failed"
        assert "dead-lettered after at least 1 start" in run.error
        step = svc.wait_for(
            lambda: query(
                service,
                "SELECT message_id, deliveries FROM jobs.steps WHERE actor = 'crasher.work' AND status = 'dead-lettered'",
            ),
            10,
            what="the dead letter in the ledger",
        )[0]
        # The second start, past the limit of 1: refused unrun.
        assert step.deliveries == 2
        assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'work'") == 1
        incidents = query(
            service, "SELECT kind FROM jobs.events WHERE message_id = :m AND kind = 'dead-lettered'", m=step.message_id
        )
        assert len(incidents) == 1
        # The broker's own limit is the backstop above the ledger's.
        assert svc.queue_stats(vhost, "long")["arguments"]["x-delivery-limit"] == 1 + BACKSTOP
        letters = svc.wait_for(lambda: dead_letter_headers(vhost, "long"), 10, what="the message in long.XQ")
        listed = list_dead_letters(service.engine, service.broker, service.queues(), limit=10).letters
        assert [(d.message_id, d.status) for d in listed] == [(step.message_id, "dead-lettered")]
        assert "started at least once without finishing" in listed[0].reason
        # Dead-lettered once, by the ledger's refusal, not by the broker's limit.
        assert [[(d["reason"], d["count"]) for d in h["x-death"]] for h in letters] == [[("rejected", 1)]]


def test_queues_declared_otherwise_stop_each_process_at_start_naming_them(env, vhost):
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        # As an earlier classic deployment left it, and as one with another delivery limit would.
        dead_letters = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "long.XQ"}
        channel.queue_declare("long", durable=True, arguments=dead_letters)
        quorum = {"x-queue-type": "quorum", "x-delivery-limit": 17, "x-dead-letter-routing-key": "short.XQ"}
        channel.queue_declare("short", durable=True, arguments={**dead_letters, **quorum})
    finally:
        connection.close()
    for command in ("worker", "scheduler", "api"):
        result = run_cli({**env, "WRLS_API_JWT_SECRET": "s" * 32}, command)
        assert result.returncode == 2, (command, result.stderr[-3000:])
        assert "Traceback" not in result.stderr
        assert (
            "queue 'long' is a classic queue on RabbitMQ, but WRLS_RABBITMQ_QUEUE_TYPE is quorum: "
            "a queue's type cannot change. Set WRLS_RABBITMQ_QUEUE_TYPE=classic"
        ) in result.stderr
        assert (
            "queue 'short' has a delivery limit of 17 on RabbitMQ, but this service's is 13 (WRLS_MAX_DELIVERIES + 10)"
            ": a quorum queue's limit cannot change. Set WRLS_MAX_DELIVERIES=7"
        ) in result.stderr
    # Nothing else was refused: the queues that did not exist were declared as set.
    assert svc.queue_stats(vhost, "control")["type"] == "quorum"


class DyingNode:
    """A broker node that can die: 127.0.0.1:<port> forwarded to the local RabbitMQ until ``kill``, which drops
    every connection through it and leaves the port closed."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", svc.AMQP_PORT))
            self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    def kill(self) -> None:
        self.server.close()
        for each in self.sockets:
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            each.close()


def test_with_several_broker_nodes_each_process_uses_a_live_one_and_moves_on_when_its_node_dies(env, processes, vhost):
    node = DyingNode()
    nodes = {"WRLS_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{node.port}/{vhost},{svc.broker_url(vhost)}"}
    try:
        processes("worker", extra_env=nodes)
        with own_service({**env, **nodes}) as service:
            assert wait_run_ended(service, service.trigger("pipeline")).status == "succeeded"
            # The worker's connections and the publisher's went to the first node.
            assert len(node.sockets) >= 4
            node.kill()
            # Both connect again, passing over the first node, now closed.
            assert wait_run_ended(service, service.trigger("pipeline")).status == "succeeded"
    finally:
        node.kill()
