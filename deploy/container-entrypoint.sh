#!/bin/sh
# Container entrypoint: seed the bundled model versions into the models volume (never over a
# version delivered later), then run Linesight with the container's arguments (default: `run`,
# the bundled demo; `run --config /config/linesight.yaml` for a real line).
set -eu
sh /app/deploy/seed-models.sh /app/models "${LINESIGHT_MODELS_DIR:-/models}" >/dev/null
exec node /app/dist/src/cli.js "$@"
