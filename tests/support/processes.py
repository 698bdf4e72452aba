"""Real worker, scheduler and exporter processes for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_APP = "tests.support.sample_app:service"
WRLS_APP = "wrls_actors.app:service"


class Process:
    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path, app: str = SAMPLE_APP) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}-{len(list(log_dir.glob(name + '-*')))}.log"
        self.log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "wrls_actors", "--app", app, *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (Dramatiq's worker processes included)."""
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        """SIGTERM to the main process only, as `docker stop` and Kubernetes send it: Dramatiq's main
        process passes it on to its worker processes once (to the whole group, they would get it twice,
        and a second SIGTERM is Dramatiq's hard stop)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float = 20) -> int | None:
        self.kill(signal.SIGTERM)
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.popen.wait(5)
        # Children of a killed group leader may linger: make sure none survive.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()
        return self.popen.returncode


def run_cli(env: dict, *args: str, app: str = SAMPLE_APP, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`wrls-actors ARGS` run to its end, as a user runs it from a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "wrls_actors", "--app", app, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
