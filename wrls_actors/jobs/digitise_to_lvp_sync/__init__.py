"""digitise-to-lvp-sync: approved digitise WR22 conditions become ``water.licence_version_purpose_conditions``
rows with their text as notes.

One step, ``sync-conditions``. The legacy fired its upserts and forgot them,
so a bad row crashed the process; here every write is awaited and a licence
with bad data is reported and skipped.
"""

from ...runtime import Job, Step
from .sync_conditions import sync_conditions

DIGITISE_TO_LVP_SYNC = Job("digitise-to-lvp-sync", queue="default", steps=(Step("sync-conditions", sync_conditions),))

JOBS = (DIGITISE_TO_LVP_SYNC,)
