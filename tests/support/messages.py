"""Messages as another service (or an intruder) publishes them: plain pika, no Dramatiq."""

from __future__ import annotations

import json

import pika
from dramatiq import Message

from tests.support import services as svc
from wrls_actors.runtime.signing import Signer

# The key of the tests' processes (tests/conftest.py gives it to them): not a secret.
TEST_MESSAGE_KEY = "test-message-key-0123456789abcdef-not-secret"


def publish(vhost: str, queue: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2, content_type="application/json"))
    finally:
        connection.close()


def signed(body: dict, key: str = TEST_MESSAGE_KEY) -> bytes:
    """``body`` signed as the service signs its own messages."""
    message = Message(
        queue_name=body["queue_name"],
        actor_name=body["actor_name"],
        args=(),
        kwargs=body.get("kwargs", {}),
        options=dict(body.get("options", {})),
        message_id=body["message_id"],
        message_timestamp=0,
    )
    return json.dumps({**body, "options": {**body.get("options", {}), "signature": Signer(key).sign(message)}}).encode()
