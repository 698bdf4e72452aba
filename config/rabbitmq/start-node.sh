#!/bin/sh
# A RabbitMQ node of the compose cluster: the cluster's Erlang cookie (the compose secret
# rabbitmq-erlang-cookie) becomes the node's cookie file, which Erlang takes only when nobody but
# its owner can read it (a mounted secret keeps the host file's owner and mode), then the image's
# own entrypoint starts the node.
set -eu
secret=/run/secrets/rabbitmq-erlang-cookie
cookie="${HOME:-/var/lib/rabbitmq}/.erlang.cookie"
if [ ! -s "$secret" ]; then
  echo "start-node: the Erlang cookie is empty: set RABBITMQ_ERLANG_COOKIE (e.g. openssl rand -hex 32)" >&2
  exit 1
fi
rm -f "$cookie"
cp "$secret" "$cookie"
chmod 400 "$cookie"
if [ "$(id -u)" = 0 ]; then
  chown rabbitmq:rabbitmq "$cookie"
fi
exec docker-entrypoint.sh "$@"
