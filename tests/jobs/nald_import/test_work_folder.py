"""The work folder's lock and the sweep, with real processes: a folder whose holder was killed
goes, one held by a living process stays."""

from __future__ import annotations

import signal
import subprocess
import sys

from wrls_actors.jobs.nald_import.work_folder import sweep, work_folder

# Takes the folder's lock the way a run does, says so, then waits to be killed.
HOLDER = """
import sys
from pathlib import Path
from wrls_actors.jobs.nald_import.work_folder import work_folder
with work_folder(Path(sys.argv[1])) as folder:
    (folder / "nald_enc.zip").write_bytes(b"x" * 1000)
    print(folder, flush=True)
    sys.stdin.read()
"""


def holder(parent) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(parent)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    return process, process.stdout.readline().strip()


def test_a_killed_runs_folder_is_swept_and_a_living_ones_is_kept(tmp_path):
    living, living_folder = holder(tmp_path)
    killed, killed_folder = holder(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    unlocked = tmp_path / "nald-left-by-an-older-version"
    unlocked.mkdir()
    (unlocked / "NALD.zip").write_bytes(b"y")
    other = tmp_path / "not-ours"
    other.mkdir()
    try:
        assert sorted(str(f) for f in sweep(tmp_path)) == sorted([killed_folder, str(unlocked)])
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, living_folder.rsplit("/", 1)[1]])
        assert (tmp_path / living_folder / "nald_enc.zip").exists()
    finally:
        living.communicate("")
    assert living.returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == [other.name]  # its run removed it on the way out


def test_a_run_sweeps_before_making_its_own_folder_and_removes_it_after(tmp_path):
    stale = tmp_path / "nald-stale"
    stale.mkdir()
    with work_folder(tmp_path) as folder:
        assert folder.parent == tmp_path and folder.name.startswith("nald-")
        assert [p.name for p in tmp_path.iterdir()] == [folder.name]
        assert sweep(tmp_path) == []  # its own lock keeps it
    assert list(tmp_path.iterdir()) == []
