"""The HTTP API: /api/v1 for runs and schedules, health routes, and the application's trigger routes.

Importing this package is cheap (worker processes import it through the
service); the web framework is loaded by ``app.build_app`` only.
"""

from .trigger_route import RouteInput, RouteInputError, TriggerRoute

__all__ = ["RouteInput", "RouteInputError", "TriggerRoute"]
