#!/usr/bin/env bash
# `make demo`: bring the local stack up if needed, then replay a simulated quarter against it.
# DEMO_ACCOUNTS / DEMO_DAYS / DEMO_SEED size it; extra arguments go to `touchline simulate run`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

$PY -m touchline.shared.stack up
# Where `up` found or started Kafka and Postgres (not always the default ports).
# shellcheck disable=SC1091
source "${TOUCHLINE_HOME:-$PWD/.touchline}/env"
echo
echo "replaying ${DEMO_DAYS:-90} simulated days of ${DEMO_ACCOUNTS:-50} customer accounts (a line per simulated week)"
exec $PY -m touchline.shared.cli simulate run \
  --accounts "${DEMO_ACCOUNTS:-50}" --days "${DEMO_DAYS:-90}" --seed "${DEMO_SEED:-7}" "$@"
