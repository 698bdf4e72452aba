"""The README's "Adding a job" example is real: defined as written, it runs on a real worker."""

import os
import re
from pathlib import Path

from tests.support.helpers import wait_run_ended, wait_worker_ready
from wrls_actors.runtime import Service, Settings

ROOT = Path(__file__).resolve().parents[1]

# What the README leaves to the service (wrls_actors/app.py): one Service per process for the app.
APP = '''

from wrls_actors.runtime import Service, Settings

_service = None


def service():
    global _service
    if _service is None:
        _service = Service(Settings.from_env("WRLS"), JOBS, ())
    return _service
'''


def example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Adding a job", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "one python block in Adding a job"
    return blocks[0]


def test_the_example_declares_a_job_with_a_plain_step_function_and_its_params():
    namespace: dict = {}
    exec(compile(example(), "README.md", "exec"), namespace)
    (job,) = namespace["JOBS"]
    assert [s.name for s in job.steps] == ["greet"] and job.steps[0].fn is namespace["greet"]
    assert [p.name for p in job.params] == ["name"]


def test_the_example_job_runs_on_a_real_worker(env, database, vhost, processes, tmp_path):
    (tmp_path / "readme_job.py").write_text(example() + APP)
    path = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    processes("worker", extra_env={"PYTHONPATH": path}, app="readme_job:service")
    wait_worker_ready(vhost, "short")

    namespace: dict = {}
    exec(compile(example(), "README.md", "exec"), namespace)
    service = Service(Settings.from_env("WRLS", env), namespace["JOBS"], ())
    try:
        run_id = service.trigger("hello", {"name": "newcomer"})
        run = wait_run_ended(service, run_id)
        assert run.status == "succeeded", run.error
        assert run.counts == {"greeted": 1}
        assert run.params == {"name": "newcomer"}
    finally:
        service.ledger.close()
        if "broker" in service.__dict__:
            service.broker.close()
