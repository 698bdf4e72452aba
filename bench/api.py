#!/usr/bin/env python
"""Starting runs through the HTTP API against publishing the same start message straight to RabbitMQ.

    .venv/bin/python bench/api.py [--requests 5000] [--clients 50] [--job time-limited]

In a fresh RabbitMQ vhost and PostgreSQL database (deleted at the end), with a
real ``wrls-actors api`` process (the WRLS app, ``WRLS_API_JWT_SECRET`` set)
and no worker, so every run started waits in its first step's queue:

1. API: ``--clients`` threads, each with its own keep-alive ``httpx.Client``,
   POST ``/api/v1/jobs/<job>/runs`` with ``{"force": true}`` (so no start is
   refused as already running) and a unique ``Idempotency-Key``, until
   ``--requests`` have been answered. Each answer must be 202 with a run id.
2. Baseline: as many threads, each with its own pika ``BlockingConnection``
   and publisher confirms on, publish the same start message (queue
   ``control``, actor ``start-job``, a unique ``message_id``; docs/messages.md)
   as another service would, persistent and mandatory: a publish returns once
   RabbitMQ has confirmed it is in the queue.

Both phases first send ``--warmup`` requests (not timed) so connections are
open. Afterwards the ledger must hold exactly one run per API request and
the queues one message per request. Prints requests/s and p50/p90/p99/max
latency of each, the ratio API / direct, whether the API's p99 is under
50 ms, and the CPU seconds of the API process, PostgreSQL and RabbitMQ in
each phase. ``--profile`` samples the API process with py-spy (if
installed). See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import httpx  # noqa: E402
import pika  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, CpuMeter, Probe, Worker, log, runtime_version  # noqa: E402

from wrls_actors.runtime.api.auth import mint  # noqa: E402

TARGET_P99_MS = 50.0
# Throwaway: signs the benchmark's own tokens for a server on a throwaway database.
API_SECRET = "bench-api-secret-0123456789abcdef-0123456789"
CONTROL_QUEUE = "control"


class ApiMeter(CpuMeter):
    """CpuMeter naming the API process's group "api" rather than "workers", and keeping its CPU seconds."""

    def _classify(self, pid: int, comm: str, pgrp: int) -> str:
        kind = super()._classify(pid, comm, pgrp)
        return "api" if kind == "workers" else kind

    def _snapshot(self) -> dict:
        self.last = super()._snapshot()
        return self.last

    def api_seconds(self) -> float:
        """The API process's CPU seconds from start to stop (after stop)."""
        ticks = 0
        for key, value in self.last.items():
            if not isinstance(key, str) and value[0] == "api":
                ticks += value[1] - self.start.get(key, ("api", 0))[1]
        return ticks / self.tick


def percentile(ordered: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


class Phase:
    """``clients`` threads sharing ``n`` numbered requests; each request's latency recorded.

    Flat out by default: each client sends its next request as soon as it has
    its answer (a closed loop, where the latency is ``clients / rate`` by
    Little's law). With ``offered`` (requests/s), request k is due at
    ``k / offered`` s from the start; a client waits for it, and its latency
    counts from when it was due, so time spent waiting for a free client
    counts too.
    """

    def __init__(self, name: str, clients: int, offered: float | None = None) -> None:
        self.name = name
        self.clients = clients
        self.offered = offered
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.elapsed = 0.0
        self.cpu = ""
        self.api_cpu_s = 0.0

    def run(self, n: int, first: int, make_client, call, close, timed: bool = True) -> None:
        numbers = itertools.count(first)
        last = first + n
        lock = threading.Lock()
        started: list[float] = []
        ready = threading.Barrier(self.clients + 1, action=lambda: started.append(time.perf_counter()))
        offered = self.offered if timed else None
        latencies: list[list[float]] = [[] for _ in range(self.clients)]

        def client(slot: int) -> None:
            try:
                handle = make_client()
            except Exception as e:  # reported below; the barrier must not wait for ever
                self.errors.append(f"client {slot}: {e!r}")
                ready.abort()
                return
            try:
                ready.wait()
                while True:
                    with lock:
                        i = next(numbers)
                    if i >= last:
                        return
                    t0 = time.perf_counter()
                    if offered:
                        due = started[0] + (i - first) / offered
                        if due > t0:
                            time.sleep(due - t0)
                        t0 = due
                    try:
                        call(handle, i)
                    except Exception as e:
                        self.errors.append(f"request {i}: {e}")
                        continue
                    latencies[slot].append(time.perf_counter() - t0)
            except threading.BrokenBarrierError:
                return
            finally:
                close(handle)

        threads = [threading.Thread(target=client, args=(s,), name=f"{self.name}-{s}") for s in range(self.clients)]
        for t in threads:
            t.start()
        try:
            ready.wait(60)
        except threading.BrokenBarrierError:
            pass
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        if timed:
            self.elapsed = time.perf_counter() - t0
            self.latencies = sorted(x for each in latencies for x in each)
        if self.errors:
            raise BenchError(f"{self.name}: {len(self.errors)} failed, e.g. {self.errors[:3]}")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    def line(self) -> str:
        return (
            (f"offered {self.offered:,.0f}/s: " if self.offered else "")
            + f"{len(self.latencies):,} in {self.elapsed:.2f} s = {self.rate:,.0f}/s; latency ms "
            f"p50 {self.ms(50):.1f}, p90 {self.ms(90):.1f}, p99 {self.ms(99):.1f}, max {self.latencies[-1] * 1000:.1f}"
        )


def api_phase(args, base: str, tag: str, meter_pgid: int) -> Phase:
    token = mint(API_SECRET, "bench-api", 3600)
    url = f"/api/v1/jobs/{args.job}/runs"
    body = json.dumps({"force": True}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def check(status: int, text: str) -> None:
        if status != 202 or "run_id" not in json.loads(text):
            raise BenchError(f"HTTP {status}: {text[:200]}")

    if args.client == "httpx":

        def make_client():
            return httpx.Client(base_url=base, headers=headers, timeout=30)

        def call(client: httpx.Client, i: int) -> None:
            response = client.post(url, content=body, headers={"Idempotency-Key": f"bench-{tag}-{i}"})
            check(response.status_code, response.text)

        def close(client: httpx.Client) -> None:
            client.close()

    else:
        host, port = base.removeprefix("http://").split(":")

        def make_client():
            return http.client.HTTPConnection(host, int(port), timeout=30)

        def call(client: http.client.HTTPConnection, i: int) -> None:
            # A bytes body goes out in one send() with the headers, as a keep-alive client should.
            client.request("POST", url, body, {**headers, "Idempotency-Key": f"bench-{tag}-{i}"})
            response = client.getresponse()
            check(response.status, response.read().decode())

        def close(client: http.client.HTTPConnection) -> None:
            client.close()

    phase = Phase("api", args.clients, args.rate)
    phase.run(args.warmup, 0, make_client, call, close, timed=False)
    meter = ApiMeter(meter_pgid)
    phase.run(args.requests, args.warmup, make_client, call, close)
    phase.cpu = meter.stop()
    phase.api_cpu_s = meter.api_seconds()
    return phase


def direct_phase(args, amqp_url: str, tag: str, meter_pgid: int) -> Phase:
    params = pika.URLParameters(amqp_url)
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")

    def make_client():
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.confirm_delivery()
        return connection, channel

    def call(handle, i: int) -> None:
        message = {
            "queue_name": CONTROL_QUEUE,
            "actor_name": "start-job",
            "kwargs": {"job": args.job, "params": {}, "force": True},
            "message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{tag}-direct-{i}")),
        }
        # Raises if the broker nacks it or cannot route it to a queue.
        handle[1].basic_publish("", CONTROL_QUEUE, json.dumps(message).encode(), properties, mandatory=True)

    def close(handle) -> None:
        if handle[0].is_open:
            handle[0].close()

    phase = Phase("direct", args.clients, args.rate)
    phase.run(args.warmup, 0, make_client, call, close, timed=False)
    meter = ApiMeter(meter_pgid)
    phase.run(args.requests, args.warmup, make_client, call, close)
    phase.cpu = meter.stop()
    phase.api_cpu_s = meter.api_seconds()
    return phase


def declare_control(amqp_url: str) -> None:
    """The ``control`` queue as Dramatiq declares it (a worker would), so the baseline's messages land."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=amqp_url)
    try:
        broker.declare_queue(CONTROL_QUEUE, ensure=True)
    finally:
        broker.close()


def wait_api(base: str, api: Worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        api.check()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError(f"the API did not answer /healthz in {timeout:.0f}s:\n{api.tail()}")


def first_queue(env: dict[str, str], app: str, job: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from wrls_actors.cli import load_service; s = load_service(sys.argv[1]); "
            "j = s.jobs[sys.argv[2]]; print(j.queue_of(j.steps[0]))",
            app,
            job,
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


class Spy:
    """py-spy record on the API process for the API phase (collapsed stacks in bench/profiles/)."""

    def __init__(self, pid: int, out: Path, gil: bool) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
        out.parent.mkdir(exist_ok=True)
        self.out = out
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--output", str(out), "--threads"]
            + (["--gil"] if gil else ["--idle"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=5000, help="timed requests per phase")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients")
    p.add_argument("--rate", type=float, help="requests/s offered by all the clients together (default: each flat out)")
    p.add_argument("--warmup", type=int, default=200, help="untimed requests before each phase")
    p.add_argument(
        "--client",
        choices=("http.client", "httpx"),
        default="http.client",
        help="the API clients' library (http.client costs the benchmark about half the CPU)",
    )
    p.add_argument("--job", default="time-limited", help="the job started (no required params)")
    p.add_argument("--app", default="wrls_actors.app:service")
    p.add_argument("--only", default="api,direct", help="phases: api, direct or both")
    p.add_argument(
        "--profile",
        choices=("gil", "all"),
        help="py-spy the API process during the API phase: only the thread holding the GIL (its CPU in Python), "
        "or every thread at work or waiting",
    )
    p.add_argument("--api-env", action="append", default=[], metavar="NAME=VALUE", help="extra env of the API")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument("--port", type=int, default=18007, help="the API's port")
    p.add_argument("--keep", action="store_true", help="keep the database, vhost and API log")
    args = p.parse_args()
    phases = set(args.only.split(","))
    tag = uuid.uuid4().hex[:8]
    results: dict[str, Phase] = {}

    with sandbox(args, "api") as box:
        env = box.env(
            WRLS_API_JWT_SECRET=API_SECRET,
            WRLS_API_PORT=str(args.port),
            **dict(kv.split("=", 1) for kv in args.api_env),
        )
        box.upgrade(env)
        queue = first_queue(env, args.app, args.job)
        api = Worker("api", [*CLI, "--app", args.app, "api"], env, box.tmp)
        box.workers.append(api)
        base = f"http://127.0.0.1:{args.port}"
        wait_api(base, api)
        probe = Probe(box.amqp_url)
        db = box.connect()
        try:
            if "api" in phases:
                log(f"API: {args.warmup} + {args.requests:,} POSTs of {args.job}, {args.clients} clients")
                spy = (
                    Spy(api.pid, BENCH / "profiles" / f"api-{tag}.txt", args.profile == "gil") if args.profile else None
                )
                try:
                    results["api"] = api_phase(args, base, tag, api.pid)
                finally:
                    if spy:
                        spy.stop()
                        log(f"profile: {spy.out}")
                log("  " + results["api"].line())
                with db.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM jobs.runs WHERE trigger_key LIKE %s", (f"bench-{tag}-%",))
                    runs = cursor.fetchone()[0]
                expected = args.warmup + args.requests
                if runs != expected:
                    raise BenchError(f"the ledger has {runs} runs for {expected} requests")
                ready = probe.ready(queue)
                if ready != expected:
                    raise BenchError(f"queue {queue} holds {ready} messages for {expected} runs")
            if "direct" in phases:
                declare_control(box.amqp_url)
                log(f"direct: {args.warmup} + {args.requests:,} confirmed publishes, {args.clients} connections")
                results["direct"] = direct_phase(args, box.amqp_url, tag, api.pid)
                log("  " + results["direct"].line())
                ready = probe.ready(CONTROL_QUEUE)
                if ready != args.warmup + args.requests:
                    raise BenchError(f"queue control holds {ready} messages for {args.warmup + args.requests}")
            api.check()
        finally:
            probe.close()

    print()
    print(
        f"Starting {args.job} at {args.clients} concurrent clients, {args.requests:,} timed requests each way "
        f"({runtime_version()})"
    )
    a, d = results.get("api"), results.get("direct")
    if a:
        print(f"  API  POST /api/v1/jobs/{args.job}/runs, 202 each (run recorded, first step published and confirmed)")
        print(f"       {a.line()}")
        print(f"       {a.cpu}")
        print(f"       the API process's CPU per request: {a.api_cpu_s / len(a.latencies) * 1000:.2f} ms")
    if d:
        print("  direct  pika, publisher confirms, persistent, mandatory: returns once RabbitMQ has it in `control`")
        print(f"       {d.line()}")
        print(f"       {d.cpu}")
    if a and d:
        print(f"  API / direct: rate {a.rate / d.rate:.2f}x, p99 {a.ms(99) / d.ms(99):.1f}x")
    if a:
        met = a.ms(99) < TARGET_P99_MS
        print(f"  API p99 {a.ms(99):.1f} ms: target under {TARGET_P99_MS:.0f} ms {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
