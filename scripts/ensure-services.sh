#!/usr/bin/env bash
# Make sure what LAF needs is installed and running on this Debian machine:
# uv, PostgreSQL (127.0.0.1:5432, user postgres) and RabbitMQ (127.0.0.1:5672,
# guest/guest). Installs from Debian's packages when missing, starts them when
# stopped, and changes nothing when they already run.
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- uv (the Python package manager; one lock for the whole workspace)
if ! command -v uv >/dev/null 2>&1; then
  log "installing uv"
  if ! command -v pip3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
  fi
  python3 -m pip install -q uv 2>/dev/null || python3 -m pip install -q --break-system-packages uv
fi

# --- PostgreSQL
fresh_postgres=0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL"
  apt_install postgresql
  fresh_postgres=1
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$fresh_postgres" = 1 ]; then
    # A cluster we just installed: let local TCP connections in as postgres without a password,
    # as on the development machines this project is built on.
    hba=/etc/postgresql/$version/main/pg_hba.conf
    grep -q "laf: local trust" "$hba" || as_root sed -i \
      '1i host all postgres 127.0.0.1/32 trust # laf: local trust\nhost all postgres ::1/128 trust # laf: local trust' "$hba"
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not start"; exit 1; }
fi

# --- RabbitMQ
if ! command -v rabbitmqctl >/dev/null 2>&1; then
  log "installing RabbitMQ"
  apt_install rabbitmq-server
fi
if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 12); do
  as_root rabbitmqctl -q await_startup --timeout 10 >/dev/null 2>&1 && break
  sleep 1
done
as_root rabbitmqctl -q await_startup --timeout 10 >/dev/null 2>&1 || { log "RabbitMQ did not start"; exit 1; }

# --- kubectl (renders the deploy/ overlays offline with `kubectl kustomize` in the tests)
if ! command -v kubectl >/dev/null 2>&1; then
  log "installing kubectl (manifest tests)"
  apt_install kubernetes-client
fi

# --- Chromium (the browser tests). Node.js comes from PyPI with the dev tools (uv sync).
if [ ! -x /usr/bin/chromium ]; then
  log "installing Chromium (browser tests)"
  apt_install chromium
fi
