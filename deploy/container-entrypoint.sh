#!/bin/sh
# Container entrypoint: seed the bundled model versions into the models volume (never over a
# version delivered later), then run Linesight with the container's arguments (default: `run`,
# the bundled demo; `run --config /config/linesight.yaml` for a real line).
set -eu
sh /app/deploy/seed-models.sh /app/models "${LINESIGHT_MODELS_DIR:-/models}" >/dev/null
# --max-semi-space-size=2: a small young generation, less RSS and CPU (README "Memory").
exec node --max-semi-space-size=2 /app/dist/src/cli.js "$@"
