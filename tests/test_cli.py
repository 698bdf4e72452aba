"""The `wrls-actors` command, run as a user runs it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.support import services as svc
from tests.support.api import TEST_API_SECRET
from tests.support.helpers import free_port, query, wait_run_ended, wait_worker_ready
from tests.support.processes import ROOT, SAMPLE_APP


def cli(env, *args, timeout_s=60):
    return subprocess.run(
        [sys.executable, "-m", "wrls_actors", "--app", SAMPLE_APP, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_trigger_refuses_a_running_job_unless_forced_and_runs_lists_the_runs(service, processes, vhost, env):
    processes("worker")
    wait_worker_ready(vhost)
    started = cli(env, "trigger", "fan", "--param", "n=4", "--param", "fail=[1]")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert wait_run_ended(service, run_id).status == "completed-with-failures"
    slow = cli(env, "trigger", "long-step", "--param", "seconds=30")
    assert slow.returncode == 0
    refused = cli(env, "trigger", "long-step")
    assert refused.returncode == 4 and "long-step is already running" in refused.stderr
    assert cli(env, "trigger", "long-step", "--force").returncode == 0
    assert query(service, "SELECT count(*) AS n FROM jobs.runs WHERE job = 'long-step'")[0].n == 2
    unbuilt = cli(env, "trigger", "unbuilt")
    assert unbuilt.returncode == 4 and "has no steps yet" in unbuilt.stderr
    assert cli(env, "trigger", "nothing-of-the-kind").returncode == 4
    assert cli(env, "trigger", "fan", "--param", "oops").returncode == 2

    listing = cli(env, "runs", "--job", "fan")
    assert listing.returncode == 0
    [row] = [line for line in listing.stdout.splitlines() if line.startswith(run_id[:8])]
    assert "completed-with-failures" in row and "1 children failed" in row and '"children_ok": 3' in row


def test_trigger_reads_parameters_as_declared_and_refuses_others_with_exit_2(service, env):
    for args, problem in [
        (("noop", "--param", "colour=blue"), "job noop: unknown parameter colour (its parameters: none)"),
        (
            ("fan", "--param", "n=four", "--param", "fail=1,x"),
            ('parameter n must be an integer, got "four"; parameter fail must be a list of integers, got "1,x"'),
        ),
        (("gate", "--param", "stop=perhaps"), 'parameter stop must be a boolean, got "perhaps"'),
        (("fan", "--param", "oops"), '--param takes key=value, got "oops"'),
    ]:
        refused = cli(env, "trigger", *args)
        assert refused.returncode == 2 and problem in refused.stderr and "Traceback" not in refused.stderr, args
    assert query(service, "SELECT count(*) AS n FROM jobs.runs")[0].n == 0
    started = cli(env, "trigger", "gate", "--param", "stop=yes")
    assert started.returncode == 0, started.stderr
    [run] = query(service, "SELECT params FROM jobs.runs WHERE run_id = :r", r=started.stdout.strip())
    assert run.params == {"stop": True}
    listing = cli(env, "jobs")
    assert listing.returncode == 0 and "    n (integer, default 5): how many children" in listing.stdout


def test_trigger_records_who_started_the_run_and_the_reason_given(service, env):
    assert cli(env, "trigger", "pipeline", "--reason", "   ").returncode == 2
    started = cli(env, "trigger", "pipeline", "--reason", "asked for by billing")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    [event] = query(service, "SELECT kind, run_id::text, operator, reason FROM jobs.events")
    assert (event.kind, event.run_id, event.reason) == ("run-triggered", run_id, "asked for by billing")
    assert event.operator.startswith("cli:")


def test_unreachable_database_gives_exit_code_3(env):
    result = cli({**env, "WRLS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}, "runs")
    assert result.returncode == 3 and "database unreachable" in result.stderr


def test_a_worker_on_the_short_queue_is_never_held_up_by_long_work(service, processes, vhost, env):
    processes("worker", "--queues", "short", "control")
    wait_worker_ready(vhost)
    long_run = service.trigger("fan", {"n": 3})
    short_run = service.trigger("pipeline")
    assert wait_run_ended(service, short_run).status == "succeeded"
    assert query(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=long_run)[0].status == "running"
    assert svc.queue_stats(vhost, "long").get("consumers", 0) == 0
    processes("worker", "--queues", "long")
    assert wait_run_ended(service, long_run).status == "succeeded"
    unknown = cli(env, "worker", "--queues", "no-such-queue")
    assert unknown.returncode == 2


def test_json_logs_carry_run_message_and_actor(service, processes, vhost):
    worker = processes("worker", extra_env={"WRLS_LOG_FORMAT": "json"})
    wait_worker_ready(vhost)
    run_id = service.trigger("pipeline")
    wait_run_ended(service, run_id)
    time.sleep(0.5)
    lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    done = [line for line in lines if line.get("actor") == "pipeline.second" and "done in" in line["message"]]
    assert len(done) == 1
    assert done[0]["run_id"] == run_id and done[0]["message_id"] and done[0]["counts"] == {"records": 1}
    assert done[0]["duration_ms"] >= 0 and done[0]["level"] == "INFO"


def health_of(port: int, route: str = "healthz") -> dict | None:
    """The exporter's (or the API's) health answer, or None while nothing listens yet."""
    try:
        return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/{route}", timeout=2))
    except OSError:
        return None


@pytest.mark.slow
def test_make_run_with_nothing_configured_runs_embedded_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")}
    env.update(
        WRLS_EMBEDDED_DIR=str(tmp_path / ".wrls"),
        WRLS_METRICS_PORT=str(port),
        WRLS_API_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    log = open(tmp_path / "run.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wrls_actors", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = svc.wait_for(lambda: health_of(port), 90, interval_s=1, what="the embedded service to answer /healthz")
        assert health == {"database": "ok", "broker": "ok (in-process)"}
        metrics = svc.wait_for(
            lambda: (
                (body := urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode())
                and 'outcome="started",schedule="check-status"' in body
                and body
            ),
            40,
            interval_s=1,
            what="a check-status tick recorded",
        )
        assert "wrls_ledger_up 1.0" in metrics
        # A second terminal: trigger and runs reach the one process through its API.
        second = [sys.executable, "-m", "wrls_actors"]
        started = subprocess.run(
            [*second, "trigger", "licence-import-licence", "--param", "licence=01/123"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 0, started.stderr
        run_id = started.stdout.strip()
        listing = subprocess.run(
            [*second, "runs", "--job", "licence-import-licence"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert listing.returncode == 0, listing.stderr
        [row] = [line for line in listing.stdout.splitlines() if line.startswith(run_id[:8])]
        assert "licence-import-licence" in row and " http " in row
        refused = subprocess.run(
            [*second, "trigger", "licence-import-licence"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert refused.returncode == 2 and "missing parameter licence" in refused.stderr
        unknown = subprocess.run([*second, "trigger", "no-such-job"], env=env, cwd=ROOT, capture_output=True, text=True)
        assert unknown.returncode == 4
        # The console is served too, to this machine's local operator with no sign-in (no secret).
        console = f"http://127.0.0.1:{env['WRLS_API_PORT']}"
        overview = urllib.request.urlopen(f"{console}/", timeout=10).read().decode()
        assert 'local <span class="role">(operator)</span>' in overview and "licence-import-licence" in overview
        runs = urllib.request.urlopen(f"{console}/runs?job=licence-import-licence", timeout=10).read().decode()
        assert f'href="/runs/{run_id}"' in runs
        # Without a secret only this machine's names are answered: no other site's page reaches it by rebinding.
        rebound = urllib.request.Request(f"{console}/", headers={"Host": "rebind.attacker.example:8007"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=10)
        assert refused.value.code == 400
        first_lines = [
            line for line in (tmp_path / "run.log").read_text().splitlines() if " WARNING " in line or " INFO " in line
        ]
        assert "EMBEDDED DEFAULT" in first_lines[0]
        # No token secret: the API says it takes calls without one, from this machine only.
        assert "EMBEDDED DEFAULT: the API on http://127.0.0.1:" in (tmp_path / "run.log").read_text()
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_run_with_a_broker_and_database_refuses_to_start_without_an_api_secret(env):
    result = subprocess.run(
        [sys.executable, "-m", "wrls_actors", "--app", SAMPLE_APP, "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "WRLS_API_JWT_SECRET is not set" in result.stderr


def test_run_with_a_broker_and_database_starts_all_four_and_stops_them_on_ctrl_c(env, vhost, tmp_path):
    port, api_port = free_port(), free_port()
    log = open(tmp_path / "run.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wrls_actors", "--app", SAMPLE_APP, "run"],
        cwd=ROOT,
        env={
            **env,
            "WRLS_METRICS_PORT": str(port),
            "WRLS_API_PORT": str(api_port),
            "WRLS_API_JWT_SECRET": TEST_API_SECRET,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert svc.wait_for(lambda: health_of(port), 60, interval_s=0.5, what="the exporter") == {
            "database": "ok",
            "broker": "ok",
        }
        wait_worker_ready(vhost)
        ready = svc.wait_for(lambda: health_of(api_port, "readyz"), 30, interval_s=0.5, what="the API")
        assert ready == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(40) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert "Dramatiq '" in output and "worker: 1 processes" in output


def test_trigger_and_runs_without_a_running_embedded_default_say_so_with_exit_3(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")}
    env.update(WRLS_EMBEDDED_DIR=str(tmp_path / ".wrls"), WRLS_API_PORT=str(free_port()))
    for args in (["trigger", "pipeline"], ["runs"]):
        result = cli(env, *args)
        assert result.returncode == 3, result.stderr
        assert "is `make run` (the embedded default) running?" in result.stderr


def test_the_embedded_default_refuses_to_start_when_the_api_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")}
        env.update(WRLS_EMBEDDED_DIR=str(tmp_path / ".wrls"), WRLS_API_PORT=str(taken.getsockname()[1]))
        result = subprocess.run(
            [sys.executable, "-m", "wrls_actors", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert "the API cannot listen on 127.0.0.1:" in result.stderr and "WRLS_API_PORT" in result.stderr
    # Refused before PostgreSQL was set up.
    assert not (tmp_path / ".wrls" / "pgdata").exists()
