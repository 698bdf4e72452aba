"""What Dramatiq's worker CLI imports in each worker process: ``entry:broker``.

The application is named by the ``JOB_RUNTIME_APP`` variable, which
``processes.run_worker`` sets before handing over to Dramatiq.
"""

import os

from .logs import configure
from .processes import APP_ENV, load_service

service = load_service(os.environ[APP_ENV])
configure(service.settings.log_level, service.settings.log_format)
broker = service.broker
