#!/usr/bin/env bash
# compose.sh — docker-compose.yml is valid (`docker-compose config -q`, no
# Docker engine needed) and has the services the deployment expects.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v docker-compose >/dev/null \
    || dt_skip "docker-compose is not installed (apt-get install docker-compose); docker-compose.yml was not validated"
cd "$dt_source"
docker-compose -f docker-compose.yml config -q || dt_fail "docker-compose config rejects docker-compose.yml"
echo "ok: docker-compose -f docker-compose.yml config -q"

services=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
want="collector db migrate reporter-220500 reporter-220502 reporter-220503 reporter-220521 reporter-220523 reporter-220524 reporter-220582 watch "
[ "$services" = "$want" ] || dt_fail "services are '$services', expected '$want'"
echo "ok: services $services"
