import pytest

from tests.support.api import start_api
from tests.support.console import OPERATOR, VIEWER, add_accounts, signed_in


@pytest.fixture
def console(processes, service):
    """The sample service's API process (which serves the console), with an operator's and a viewer's account."""
    add_accounts(service)
    return start_api(processes)


@pytest.fixture
def operator(console):
    client = signed_in(console.base, *OPERATOR)
    yield client
    client.close()


@pytest.fixture
def viewer(console):
    client = signed_in(console.base, *VIEWER)
    yield client
    client.close()
