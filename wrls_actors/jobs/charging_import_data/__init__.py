"""charging-import-data: NALD reference data, return versions, requirements and their purposes
into ``water`` (the legacy's ``import.charging-data``).

Steps: ``wait-for-nald`` (after that night's NALD swap, bounded by
``WRLS_NALD_WAIT_S``) → ``reference-data`` → ``return-versions`` →
``return-requirements`` → ``return-requirement-purposes``, one transaction each.
Each table is written by one set-based upsert that changes a row only when a
value differs, so a second run over the same extract changes nothing.
"""

from datetime import timedelta

from ...runtime import Job, Step
from .reference_data import reference_data
from .return_requirement_purposes import return_requirement_purposes
from .return_requirements import return_requirements
from .return_versions import return_versions
from .wait_for_nald import WAIT_FOR_NALD

CHARGING_IMPORT_DATA = Job(
    "charging-import-data",
    queue="import",
    steps=(
        WAIT_FOR_NALD,
        Step("reference-data", reference_data),
        # 71,000 licences: a few hundred thousand rows per table, one statement each.
        Step("return-versions", return_versions, time_limit=timedelta(minutes=15)),
        Step("return-requirements", return_requirements, time_limit=timedelta(minutes=15)),
        Step("return-requirement-purposes", return_requirement_purposes, time_limit=timedelta(minutes=15)),
    ),
)

JOBS = (CHARGING_IMPORT_DATA,)
