"""licence-import: NALD parties into crm_v2 companies, then licences into water
and crm_v2.

Also ``licence-import-licence`` and ``licence-import-company``: one licence
(``--param licence=<ref>``) or one party (``--param party=<region>:<id>``) on
demand, without touching queued or running work (the legacy's manual routes
deleted the whole queue first).
"""

from datetime import timedelta

from ...runtime import ALLOW, CONTINUE, Job, Param, Step
from .delete_removed_documents import delete_removed_documents
from .import_company import CHUNK as COMPANY_CHUNK
from .import_company import import_companies, import_company
from .import_licence import CHUNK as LICENCE_CHUNK
from .import_licence import import_licence, import_licences
from .import_purpose_condition_types import import_purpose_condition_types
from .queue_companies import queue_companies
from .queue_licences import queue_licences
from .wait_for_nald import WAIT_FOR_NALD

IMPORT_COMPANY = Step(
    "import-company", import_companies, queue="import-licence", time_limit=timedelta(minutes=2), chunk=COMPANY_CHUNK
)
IMPORT_LICENCE = Step(
    "import-licence", import_licences, queue="import-licence", time_limit=timedelta(minutes=2), chunk=LICENCE_CHUNK
)

LICENCE_IMPORT = Job(
    "licence-import",
    queue="import",
    steps=(
        # Bounded by WRLS_NALD_WAIT_S, in slices that stay below RabbitMQ's consumer timeout (see jobs/shared/nald_wait.py).
        WAIT_FOR_NALD,
        Step("delete-removed-documents", delete_removed_documents),
        Step("import-purpose-condition-types", import_purpose_condition_types),
        # A failed company is counted and reported; the licence stage runs all the same (the legacy lost the
        # whole night's licence import to one failed company).
        Step("queue-companies", queue_companies, fan_out=IMPORT_COMPANY, on_child_failure=CONTINUE),
        Step("queue-licences", queue_licences, fan_out=IMPORT_LICENCE, on_child_failure=CONTINUE),
    ),
    params=(
        Param(
            "force", bool, default=False, help="delete or mark deleted more than `WRLS_MAX_DELETE_PERCENT` of the rows"
        ),
    ),
)

LICENCE_IMPORT_LICENCE = Job(
    "licence-import-licence",
    queue="import-licence",
    overlap=ALLOW,
    steps=(Step("import-licence", import_licence, time_limit=timedelta(minutes=2)),),
    params=(Param("licence", str, required=True, max_length=100, help='the licence number, e.g. `"03/28/61/0032"`'),),
)

LICENCE_IMPORT_COMPANY = Job(
    "licence-import-company",
    queue="import-licence",
    overlap=ALLOW,
    steps=(Step("import-company", import_company, time_limit=timedelta(minutes=2)),),
    params=(Param("party", str, required=True, max_length=100, help='`"<region>:<NALD party id>"`, e.g. `"1:123"`'),),
)

JOBS = (LICENCE_IMPORT, LICENCE_IMPORT_LICENCE, LICENCE_IMPORT_COMPANY)
