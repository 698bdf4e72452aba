import pytest

from tests.support.api import start_api
from tests.support.helpers import wait_worker_ready


@pytest.fixture
def api(processes):
    """The sample service's API process, with no worker: runs start and wait in their queue."""
    return start_api(processes)


@pytest.fixture
def api_and_worker(processes, vhost):
    api = start_api(processes)
    processes("worker")
    wait_worker_ready(vhost)
    return api
