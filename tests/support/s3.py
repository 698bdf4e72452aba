"""A real S3 API server for the tests: moto in server mode, on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.helpers import free_port
from tests.support.services import wait_for

# moto accepts any credentials; boto3 only needs some to sign with.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-west-2"}


class S3Server:
    """moto on a free port; started again on another port if the one it was given was taken meanwhile.

    A port from free_port() is only free when asked: another test process may bind it before moto
    does. moto then exits at once, and polling the port could reach whatever took it, so a dead
    process means another port, and the error after the last try carries moto's own words.
    """

    ATTEMPTS = 3

    def __init__(self, log: Path) -> None:
        self.log = open(log, "wb")
        for attempt in range(1, self.ATTEMPTS + 1):
            self.port = free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            self.popen = subprocess.Popen(
                [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            if wait_for(self._up_or_exited, 60, what="moto S3 server") == "up":
                return
            if attempt == self.ATTEMPTS:
                self.log.close()
                tail = log.read_text(errors="replace")[-2000:]
                raise AssertionError(f"moto S3 server exited {self.ATTEMPTS} times; its log ends:\n{tail}")

    def _up_or_exited(self) -> str | None:
        if self.popen.poll() is not None:
            return "exited"
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return "up"
        except OSError:
            return None

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="eu-west-2",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
        self.log.close()
