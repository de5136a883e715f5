#!/usr/bin/env bash
# Make sure every service the tests use is running. Idempotent: each service is checked first
# and only installed/started when missing. With arguments, only the named services are handled
# (postgres, mosquitto, docker, azurite).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${LEOSCOPE_SERVICES_DIR:-/var/lib/leoscope-services}
mkdir -p "$state"
log() { echo "services: $*" >&2; }

wait_for() { # wait_for SECONDS CMD...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.3
  done
}

apt_install() {
  if [ ! -f "$state/apt-updated" ]; then
    apt-get update -qq >/dev/null 2>&1 && touch "$state/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

svc_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for 30 pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not start"; return 1; }
}

svc_mosquitto() {
  if port_open 1883; then return 0; fi
  command -v mosquitto >/dev/null || apt_install mosquitto
  log "starting Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf 2>/dev/null || mosquitto -d -p 1883
  wait_for 15 port_open 1883 || { log "Mosquitto did not start"; return 1; }
}

svc_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || { log "installing docker.io"; apt_install docker.io; }
  command -v busybox >/dev/null || apt_install busybox-static
  log "starting dockerd"
  nohup dockerd >"$state/dockerd.log" 2>&1 &
  wait_for 60 docker info || { log "dockerd did not start (see $state/dockerd.log)"; return 1; }
}

svc_azurite() {
  if port_open 10000; then return 0; fi
  local dir="$state/azurite"
  if [ ! -x "$dir/node_modules/.bin/azurite-blob" ]; then
    log "installing azurite (npm)"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund azurite@3 >/dev/null 2>&1) \
      || { log "npm install azurite failed"; return 1; }
  fi
  log "starting azurite blob service"
  mkdir -p "$dir/data"
  nohup "$dir/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 10000 \
    --location "$dir/data" --skipApiVersionCheck --loose >"$dir/azurite.log" 2>&1 &
  wait_for 30 port_open 10000 || { log "azurite did not start"; return 1; }
}

# Busybox is what tests build their experiment images from; make sure it is there.
svc_busybox() {
  command -v busybox >/dev/null || apt_install busybox-static
}

services=("$@")
[ ${#services[@]} -eq 0 ] && services=(postgres mosquitto docker azurite busybox)
rc=0
for s in "${services[@]}"; do
  "svc_$s" || rc=1
done
exit $rc
