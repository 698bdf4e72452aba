"""charging-import-versions: the PRESROC charge versions and elements NALD holds, into ``water``
(the legacy's ``import.charge-versions``). On demand only.

Steps: ``wait-for-nald`` → ``charge-version-metadata`` (each licence's charge
history with its gaps, ``history.py``) → ``charge-versions`` →
``charge-elements`` → ``clean-up``, one transaction each. Every step can be
run again: upserts change a row only when a value differs, and the clean-up
deletes only what NALD no longer has and no bill run refers to.

It needs licence-import (licences, companies, invoice accounts) and
charging-import-data (purposes) to have run; what they have not written yet is
counted and left out, as in the legacy.
"""

from datetime import timedelta

from ...runtime import Job, Param, Step
from .charge_elements import charge_elements
from .charge_version_metadata import charge_version_metadata
from .charge_versions import charge_versions
from .clean_up import clean_up
from .wait_for_nald import WAIT_FOR_NALD

CHARGING_IMPORT_VERSIONS = Job(
    "charging-import-versions",
    queue="import",
    steps=(
        WAIT_FOR_NALD,
        Step("charge-version-metadata", charge_version_metadata, time_limit=timedelta(minutes=15)),
        Step("charge-versions", charge_versions, time_limit=timedelta(minutes=15)),
        Step("charge-elements", charge_elements, time_limit=timedelta(minutes=15)),
        Step("clean-up", clean_up, time_limit=timedelta(minutes=15)),
    ),
    params=(
        Param(
            "force", bool, default=False, help="delete or mark deleted more than `WRLS_MAX_DELETE_PERCENT` of the rows"
        ),
    ),
)

JOBS = (CHARGING_IMPORT_VERSIONS,)
