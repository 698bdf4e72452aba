"""The README's "Adding a job" example is real: defined as written, it runs on a real worker."""

import importlib.util
import os
import re
from pathlib import Path

from tests.support.helpers import wait_run_ended, wait_worker_ready
from wrls_actors.runtime import Service, Settings

ROOT = Path(__file__).resolve().parents[1]

# What the README leaves to the service (wrls_actors/app.py): one Service per process for the app.
APP = """

from wrls_actors.runtime import Service, Settings

_service = None


def service():
    global _service
    if _service is None:
        _service = Service(Settings.from_env("WRLS"), JOBS, ())
    return _service
"""


def example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Adding a job", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "one python block in Adding a job"
    return blocks[0]


def load(folder: Path):
    """The example as a module of its own, as a job folder's modules are."""
    path = folder / "readme_job.py"
    path.write_text(example() + APP)
    spec = importlib.util.spec_from_file_location("readme_job", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_declares_a_job_with_a_plain_step_function_and_its_params(tmp_path):
    module = load(tmp_path)
    (job,) = module.JOBS
    assert [s.name for s in job.steps] == ["greet"] and job.steps[0].fn is module.greet
    assert [p.name for p in job.params] == ["name"]


def test_the_example_job_runs_on_a_real_worker(env, database, vhost, processes, tmp_path):
    module = load(tmp_path)
    path = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    processes("worker", extra_env={"PYTHONPATH": path}, app="readme_job:service")
    wait_worker_ready(vhost, "short")

    service = Service(Settings.from_env("WRLS", env), module.JOBS, ())
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
