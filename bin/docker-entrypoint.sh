#!/bin/sh
# The container's roles. The same commands run here without a container (tests do).
set -e
role="${1:-web}"
run() { exec node --import tsx --import ./bin/hooks/register.js "$@"; }
case "$role" in
  web) run server.ts ;;
  worker) run workers/worker/index.ts ;;
  inference) run workers/inference/index.ts ;;
  migrate) run db/migrate-cli.ts ;;
  *) echo "usage: docker-entrypoint.sh web|worker|inference|migrate" >&2; exit 64 ;;
esac
