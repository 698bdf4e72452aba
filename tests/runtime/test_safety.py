"""Nothing may outlast RabbitMQ's consumer timeout: checked before anything starts."""

import subprocess
import sys

import dramatiq
from dramatiq.brokers.stub import StubBroker

from wrls_actors.runtime.safety import unsafe_actors


def actor(broker, name, **options):
    return dramatiq.actor(lambda: None, actor_name=name, broker=broker, **options)


def test_time_limits_and_backoffs_at_or_over_the_consumer_timeout_are_named():
    broker = StubBroker()
    actors = [
        actor(broker, "fine", time_limit=60_000, max_backoff=60_000),
        actor(broker, "too-long", time_limit=1_800_000, max_backoff=60_000),
        actor(broker, "backs-off-too-long", time_limit=60_000, max_backoff=2_000_000),
        actor(broker, "default-backoff", time_limit=60_000),
    ]
    problems = unsafe_actors(actors, consumer_timeout_s=1800, retries_max_backoff_ms=7 * 24 * 3600 * 1000)
    assert [p.split(":")[0] for p in problems] == ["too-long", "backs-off-too-long", "default-backoff"]
    assert "time limit 1800000 ms is not below the consumer timeout 1800000 ms" in problems[0]


def test_the_worker_refuses_to_start_naming_the_actor(tmp_path, env):
    app = tmp_path / "unsafe_app.py"
    app.write_text(
        "from datetime import timedelta\n"
        "from wrls_actors.runtime import Job, Service, Settings, Step\n"
        "def service():\n"
        "    return Service(Settings.from_env('WRLS'), [Job('big', (Step('import', lambda ctx: None,"
        " time_limit=timedelta(hours=1)),))])\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "wrls_actors", "--app", "unsafe_app:service", "worker"],
        env={**env, "PYTHONPATH": f"{tmp_path}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "big.import: time limit 3600000 ms is not below the consumer timeout 1800000 ms" in result.stderr
