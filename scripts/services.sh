#!/usr/bin/env bash
# Starts the local services the tests talk to, if they are not running: MariaDB (the shop source)
# and PostgreSQL (a production-like registry and Airflow metadata). SeaweedFS (S3) and Airflow's
# own servers are started by the tests themselves, on free ports.
set -euo pipefail

wait_for() {  # name, command
  for _ in $(seq 1 60); do
    if eval "$2" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "services: $1 did not start" >&2
  return 1
}

if ! mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  echo "services: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB "mysqladmin -uroot -h127.0.0.1 ping"
fi

if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -q; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  wait_for PostgreSQL "pg_isready -h 127.0.0.1 -q"
fi
