"""charge-categories-sync: the SROC charge categories CSV from the object store into
``water.billing_charge_categories``.

``wrls-actors trigger charge-categories-sync --param force=true`` syncs the
file even if its ETag is the one already synced.
"""

from ...runtime import Job, Param, Step
from .sync_from_csv import sync_from_csv

CHARGE_CATEGORIES_SYNC = Job(
    "charge-categories-sync",
    steps=(Step("sync-from-csv", sync_from_csv),),
    params=(Param("force", bool, default=False, help="read the file even if its ETag is the one imported last"),),
)

JOBS = (CHARGE_CATEGORIES_SYNC,)
