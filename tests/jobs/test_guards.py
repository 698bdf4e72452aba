"""The deletion guard's rule and the one reading of `force`."""

from __future__ import annotations

import pytest

from wrls_actors.jobs.guards import check_deletion, is_forced
from wrls_actors.runtime import PermanentError


# A run's parameters were checked against the job's declaration when it started, so `force`
# is a boolean here; text that looks true is not read as true.
@pytest.mark.parametrize(
    "value, forced",
    [
        (True, True),
        ("true", False),
        ("1", False),
        (1, False),
        (False, False),
        (None, False),
    ],
)
def test_force_is_read_one_way(value, forced):
    assert is_forced({"force": value}) is forced
    assert is_forced({}) is False


@pytest.mark.parametrize(
    "deleting, live, refused",
    [
        (0, 0, False),
        (0, 100, False),
        (5, 100, False),
        (6, 100, True),
        (1, 1, True),
        (149, 300, True),
    ],
)
def test_a_deletion_over_the_share_is_refused_naming_the_counts_table_and_setting(deleting, live, refused):
    args = dict(table="crm.document_header", deleting=deleting, live=live, max_percent=5)
    if not refused:
        check_deletion({}, **args)
        return
    with pytest.raises(PermanentError) as error:
        check_deletion({}, **args)
    assert f"{deleting:,} of {live:,} live rows of crm.document_header" in str(error.value)
    assert "WRLS_MAX_DELETE_PERCENT=5" in str(error.value) and "force=true" in str(error.value)
    check_deletion({"force": True}, **args)
