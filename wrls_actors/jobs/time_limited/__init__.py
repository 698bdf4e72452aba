"""time-limited: SROC licences whose time-limited charge purposes end within
50 days go into charge version workflow, so that their charge information is
set up again before the time limit runs out.

One step, ``add-workflows``: one set-based insert of a ``to_setup``
``water.charge_version_workflows`` row per selected licence. The legacy (the
system app's ``POST /jobs/time-limited``) inserted row by row with no
transaction, once per (licence, licence version, charge version).
"""

from ...runtime import Job, Step
from .add_workflows import add_workflows

TIME_LIMITED = Job("time-limited", queue="default", steps=(Step("add-workflows", add_workflows),))

JOBS = (TIME_LIMITED,)
