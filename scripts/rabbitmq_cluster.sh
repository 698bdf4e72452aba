#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on this machine, for trying the service against a cluster and for the
# cluster fault test: nodes rabbit-c1..3@localhost, AMQP 5701-5703, management 15701-15703,
# distribution 25701-25703, data under .wrls/rabbitmq-cluster (or --dir DIR).
# The machine's own RabbitMQ (5672, 15672, 25672, its cookie and /etc/rabbitmq) is left alone.
# Usage: scripts/rabbitmq_cluster.sh [--dir DIR] start|stop|status|stop-node N|start-node N
# The work is done by tests/support/cluster.py (standard library only), which the test uses too.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
# From the caller's folder, so that a relative --dir is theirs.
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m tests.support.cluster "$@"
