#!/usr/bin/env bash
# Make sure the PostgreSQL and RabbitMQ the tests use are up, starting them
# with the machine's own commands when they are installed but stopped, and
# enable RabbitMQ's management plugin (queue depths, per-test vhosts).
# Where a service is not installed at all the tests skip locally, and fail
# under CI.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done; return 1; }

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_port 5432 30 || echo "services: PostgreSQL did not come up" >&2
  else
    echo "services: PostgreSQL is not installed; tests that need it will skip (or fail under CI)" >&2
  fi
fi

if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "services: starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_port 5672 90 || echo "services: RabbitMQ did not come up" >&2
  else
    echo "services: RabbitMQ is not installed; tests that need it will skip (or fail under CI)" >&2
  fi
fi

if port_open 5672 && ! port_open 15672 && command -v rabbitmq-plugins >/dev/null 2>&1; then
  echo "services: enabling the RabbitMQ management plugin"
  rabbitmq-plugins enable rabbitmq_management >/dev/null || true
  wait_port 15672 60 || echo "services: RabbitMQ management API did not come up" >&2
fi
exit 0
