"""nald-import: the nightly NALD extract into ``import``, then every licence
into ``permit``, ``crm`` and ``returns``.

Also ``nald-import-licence``: the one-licence import on demand
(``wrls-actors trigger nald-import-licence --param licence=<ref>``).
"""

from datetime import timedelta

from ...runtime import ALLOW, CONTINUE, Job, Param, Step
from .delete_removed_documents import delete_removed_documents
from .import_licence import CHUNK, import_licence, import_licences
from .queue_licences import queue_licences
from .s3_download import MAX_RETRIES as S3_DOWNLOAD_RETRIES
from .s3_download import s3_download

# A chunk of 100 licences takes about a second; halving one with a bad licence, a few more.
IMPORT_LICENCE = Step(
    "import-licence", import_licences, queue="import-licence", time_limit=timedelta(minutes=2), chunk=CHUNK
)

NALD_IMPORT = Job(
    "nald-import",
    queue="import",
    steps=(
        # A production extract loads in minutes; the limit leaves room below RabbitMQ's 30-minute consumer timeout.
        Step(
            "s3-download",
            s3_download,
            time_limit=timedelta(minutes=25),
            max_retries=S3_DOWNLOAD_RETRIES,
            min_backoff=timedelta(seconds=30),
        ),
        Step("delete-removed-documents", delete_removed_documents),
        # One failed licence is counted and reported; the others are imported all the same.
        Step("queue-licences", queue_licences, fan_out=IMPORT_LICENCE, on_child_failure=CONTINUE),
    ),
    params=(
        Param(
            "force",
            bool,
            default=False,
            help="import even if the extract's ETag is the one imported last, "
            "and go past the guards (`WRLS_NALD_MAX_SHRINK_PERCENT`, `WRLS_MAX_DELETE_PERCENT`)",
        ),
    ),
)

# Two licences may be imported on demand at once; the same one twice waits its turn (a lock per licence).
NALD_IMPORT_LICENCE = Job(
    "nald-import-licence",
    queue="import-licence",
    overlap=ALLOW,
    steps=(Step("import-licence", import_licence, time_limit=timedelta(minutes=2)),),
    params=(Param("licence", str, required=True, max_length=100, help='the licence number, e.g. `"03/28/61/0032"`'),),
)

JOBS = (NALD_IMPORT, NALD_IMPORT_LICENCE)
