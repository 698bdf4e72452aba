"""digitise-to-licence-gauging-stations: the gauging stations of approved digitise WR22 conditions become
``water.licence_gauging_stations`` rows.

One step, ``copy-links``. The legacy's handler returned un-awaited promises,
so its job completed at once and a bad row crashed the process; here every
write is awaited and a licence with bad data is reported and skipped.
"""

from ...runtime import Job, Step
from .copy_links import copy_links

DIGITISE_TO_LICENCE_GAUGING_STATIONS = Job(
    "digitise-to-licence-gauging-stations", queue="default", steps=(Step("copy-links", copy_links),)
)

JOBS = (DIGITISE_TO_LICENCE_GAUGING_STATIONS,)
