"""licence-not-in-charge-version-workflow: licence versions that need their
charge information set up go into charge version workflow.

One step, ``add-workflows``: one set-based insert of a ``to_setup``
``water.charge_version_workflows`` row per selected licence version. The
legacy queued one ``new-LicenceVersion`` job per version, whose retries never
ran (no scheduler on that queue).
"""

from ...runtime import Job, Step
from .add_workflows import add_workflows

LICENCE_NOT_IN_CHARGE_VERSION_WORKFLOW = Job(
    "licence-not-in-charge-version-workflow", queue="default", steps=(Step("add-workflows", add_workflows),)
)

JOBS = (LICENCE_NOT_IN_CHARGE_VERSION_WORKFLOW,)
