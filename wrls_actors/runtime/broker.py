"""The broker and its one ordered middleware stack.

Order matters: ``before_*`` hooks run top to bottom and ``after_*`` hooks
bottom to top, so the ledger, placed just before Retries, records a failure
after Retries has decided whether it is final.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Middleware, Pipelines, Retries, ShutdownNotifications, TimeLimit

from . import envelope
from .ledger_middleware import Ledger


class ScheduleOptions(Middleware):
    """Declares periodiq's ``periodic`` actor option without its skipping.

    periodiq's own middleware acks, unrun, any tick older than 30 seconds,
    including every retry of a scheduled step: our tick actor records late
    ticks instead, so only the option is kept.
    """

    actor_options = {"periodic"}


def middleware_stack(ledger: Ledger) -> list[Middleware]:
    return [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Pipelines(),
        ledger,
        Retries(max_retries=3, min_backoff=5_000, max_backoff=300_000),
        ScheduleOptions(),
    ]


def build_broker(url: str | None, ledger: Ledger) -> dramatiq.Broker:
    """RabbitMQ with confirmed delivery, or the in-process broker when ``url`` is None."""
    dramatiq.set_encoder(envelope.EnvelopeEncoder())
    middleware = middleware_stack(ledger)
    if url is None:
        broker: dramatiq.Broker = StubBroker(middleware=middleware)
    else:
        broker = RabbitmqBroker(url=url, confirm_delivery=True, middleware=middleware)
    dramatiq.set_broker(broker)
    return broker

