"""licence-updates: new licence versions go into charge version workflow, so
that their charge information is set up for the change.

One step, ``add-workflows``: one set-based insert of a ``to_setup``
``water.charge_version_workflows`` row per selected licence version. It
replaces the system app's ``POST /jobs/licence-updates``, itself the
replacement of the service app's licence-not-in-charge-version-workflow,
which still runs here too (docs/jobs/licence_updates.md says how they divide
the work).
"""

from ...runtime import Job, Step
from .add_workflows import add_workflows

LICENCE_UPDATES = Job("licence-updates", queue="default", steps=(Step("add-workflows", add_workflows),))

JOBS = (LICENCE_UPDATES,)
