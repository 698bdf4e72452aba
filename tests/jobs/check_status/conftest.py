"""The fake GOV.UK Notify and the worker's environment of the notification jobs' tests."""

from tests.jobs.send_message.conftest import notify, wrls_env  # noqa: F401 (fixtures used by name)
