"""gauging-stations-sync: the gauging stations CSV from the object store into
``water.gauging_stations``.

``wrls-actors trigger gauging-stations-sync --param force=true`` syncs the
file even if its ETag is the one already synced.
"""

from ...runtime import Job, Param, Step
from .sync_from_csv import sync_from_csv

GAUGING_STATIONS_SYNC = Job(
    "gauging-stations-sync",
    steps=(Step("sync-from-csv", sync_from_csv),),
    params=(Param("force", bool, default=False, help="read the file even if its ETag is the one imported last"),),
)

JOBS = (GAUGING_STATIONS_SYNC,)
