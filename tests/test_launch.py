"""The command's start (launch.py), as a process runs it: no collection while the service loads, then
everything loaded frozen and collection on for the command."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.processes import ROOT
from wrls_actors.launch import YOUNG_COLLECTION

PROBE_APP = """
    import atexit
    import gc
    import sys

    from wrls_actors.runtime import Service, Settings


    def report():
        print(
            f"ran: collecting {gc.isenabled()}, frozen {gc.get_freeze_count()}, young {gc.get_threshold()[0]}",
            file=sys.stderr,
        )


    def service():
        print(f"loading: collecting {gc.isenabled()}", file=sys.stderr)
        atexit.register(report)
        return Service(Settings.from_env("WRLS"), (), ())
"""


@pytest.mark.parametrize("command", ["module", "script"])
def test_collection_is_off_while_the_service_loads_and_on_for_the_command_with_the_load_frozen(tmp_path, command):
    (tmp_path / "gc_probe_app.py").write_text(textwrap.dedent(PROBE_APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")}  # nothing configured: embedded
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    start = (
        [sys.executable, "-m", "wrls_actors"]
        if command == "module"
        else [str(Path(sys.executable).parent / "wrls-actors")]
    )
    result = subprocess.run(
        [*start, "--app", "gc_probe_app:service", "jobs"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "loading: collecting False" in result.stderr
    ran = re.search(r"ran: collecting (\w+), frozen (\d+), young (\d+)", result.stderr)
    assert ran is not None, result.stderr
    assert ran[1] == "True"
    assert int(ran[2]) > 10_000  # the modules, classes and functions the load made
    assert int(ran[3]) == YOUNG_COLLECTION
