"""Every WRLS job declares the parameters its steps read, the docs list them, and the real
worker refuses a start-job whose parameters are not the job's."""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
import uuid
from pathlib import Path

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import publish
from wrls_actors.jobs import JOBS

READ = re.compile(r"""params(?:\.get\(|\[)\s*["'](\w+)["']""")
DOCS = Path(__file__).parents[2] / "docs" / "messages.md"


def _modules(fn) -> set[str]:
    """The job modules a step function may call into: its module and, transitively, the ones it imports."""
    seen: set[str] = set()
    todo = [sys.modules[fn.__module__]]
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        for value in vars(module).values():
            found = (
                value
                if isinstance(value, types.ModuleType)
                else sys.modules.get(getattr(value, "__module__", "") or "")
            )
            if found is not None and found.__name__.startswith("wrls_actors.jobs") and found.__name__ not in seen:
                todo.append(found)
    return seen


def test_each_job_declares_exactly_the_parameters_its_steps_read():
    # A fan-out child reads its item; only a step a start reaches directly reads the run's parameters.
    for job in JOBS:
        read = {
            name
            for step in job.steps
            for module in _modules(step.fn)
            for name in READ.findall(inspect.getsource(sys.modules[module]))
        }
        assert read == {p.name for p in job.params}, job.name


def test_the_docs_list_every_job_with_its_parameters():
    rows = {}
    for line in DOCS.read_text().splitlines():
        match = re.fullmatch(r"\| (`[a-z-]+`(?:, `[a-z-]+`)*) \| (.+) \|", line)
        if match:
            for name in re.findall(r"`([a-z-]+)`", match.group(1)):
                rows[name] = match.group(2)
    for job in JOBS:
        assert rows.get(job.name) == ("; ".join(p.describe() for p in job.params) or "none"), job.name


def test_a_start_job_with_parameters_the_job_does_not_take_is_dead_lettered_naming_them(wrls, worker, vhost):
    worker()
    wait_worker_ready(vhost, "control")
    start = {
        "queue_name": "control",
        "actor_name": "start-job",
        "kwargs": {"job": "check-status", "params": {"verbose": True, "note": "x" * 100_000}},
    }
    publish(vhost, "control", json.dumps(start).encode())
    wrong = {
        "queue_name": "control",
        "actor_name": "start-job",
        "kwargs": {"job": "nald-import-licence", "params": {"licence": 3}},
    }
    publish(vhost, "control", json.dumps(wrong).encode())
    svc.wait_for(
        lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 2,
        30,
        what="two start messages in control.XQ",
    )
    rows = svc.wait_for(
        lambda: query(
            wrls, "SELECT error FROM jobs.steps WHERE actor = 'start-job' AND status = 'dead-lettered' ORDER BY error"
        ),
        10,
        what="the ledger rows",
    )
    assert [r.error for r in rows] == [
        "BadMessage: job check-status: unknown parameter verbose; unknown parameter note (its parameters: none)",
        (
            "BadMessage: job nald-import-licence: parameter licence must be a string, got 3 "
            "(its parameters: licence (string))"
        ),
    ]
    assert scalar(wrls, "SELECT count(*) FROM jobs.runs") == 0
    # The declared parameters of a job pass, end to end, and are kept with the run.
    notice = str(uuid.uuid4())
    publish(
        vhost,
        "control",
        json.dumps(
            {
                "queue_name": "control",
                "actor_name": "start-job",
                "kwargs": {"job": "send-message", "params": {"event_id": notice}},
            }
        ).encode(),
    )
    run = svc.wait_for(
        lambda: query(wrls, "SELECT * FROM jobs.runs WHERE job = 'send-message'"), 30, what="the send-message run"
    )[0]
    assert run.params == {"event_id": notice}
    assert wait_run_ended(wrls, str(run.run_id)).status == "succeeded"
