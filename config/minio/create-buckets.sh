#!/bin/sh
# One-shot (compose service `minio-init`): creates the buckets the service reads.
# Idempotent, so it runs again harmlessly on every `docker compose up`.
# A script rather than MC_HOST_<alias>=http://user:pass@host, which breaks on
# passwords with URL characters in them.
set -eu
mc alias set local "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
for bucket in $BUCKETS; do
  mc mb --ignore-existing "local/$bucket"
done
