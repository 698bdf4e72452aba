"""Settlements handed over by many threads at once reach RabbitMQ, each as what it was: ack or reject."""

import threading

import dramatiq
import pika

from tests.support import services as svc
from wrls_actors.runtime.acks import BurstAcks
from wrls_actors.runtime.rabbitmq import Rabbitmq

MESSAGES = 300
REJECTED_EVERY = 7  # messages 0, 7, 14, ... are rejected, the rest acknowledged


def depth(vhost: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_acks_and_rejects_from_many_threads_are_all_sent_in_their_kind(vhost):
    broker = Rabbitmq([svc.broker_url(vhost)], queue_type="classic", max_deliveries=3, middleware=[])
    try:
        broker.declare_queue("burst")
        for n in range(MESSAGES):
            broker.enqueue(dramatiq.Message(queue_name="burst", actor_name="a", args=(n,), kwargs={}, options={}))
        consumer = broker.consume("burst", prefetch=100, timeout=50)
        assert isinstance(consumer, BurstAcks)

        handed: list = []
        taken = threading.Semaphore(0)

        def settle() -> None:
            while True:
                taken.acquire()
                message = handed.pop()
                if message is None:
                    return
                if message.args[0] % REJECTED_EVERY == 0:
                    consumer.nack(message)
                else:
                    consumer.ack(message)

        threads = [threading.Thread(target=settle) for _ in range(8)]
        for thread in threads:
            thread.start()
        received = 0
        # This thread is the consumer's: its I/O loop runs (and sends what was handed over) only while it
        # takes messages, as Dramatiq's consumer thread does.
        while received < MESSAGES or consumer.known_tags:
            message = next(consumer)
            if message is not None:
                received += 1
                handed.append(message)
                taken.release()
        for _ in threads:
            handed.append(None)
            taken.release()
        for thread in threads:
            thread.join()
        for _ in range(5):
            next(consumer)  # a last turn of the loop for what the threads handed over last
        consumer.close()
    finally:
        broker.close()

    rejected = len(range(0, MESSAGES, REJECTED_EVERY))
    # Nothing came back unsettled when the consumer closed, and each reject went to the dead letters.
    assert depth(vhost, "burst") == 0
    assert depth(vhost, "burst.XQ") == rejected
