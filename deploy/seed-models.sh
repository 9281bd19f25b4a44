#!/bin/sh
# Copy the model versions shipped with Linesight into a writable models directory, each version
# through install-model.sh (staging directory + rename, never half-copied), skipping the versions
# already there: a version delivered later (Greengrass, upload, copy) is never overwritten.
#   seed-models.sh BUNDLED_MODELS_DIR MODELS_DIR
set -eu
bundled=$1 models=$2
here=$(dirname "$0")
mkdir -p "$models"
for version_dir in "$bundled"/*/*/; do
  [ -f "$version_dir/manifest.json" ] || continue
  version=$(basename "$version_dir")
  name=$(basename "$(dirname "$version_dir")")
  sh "$here/greengrass/install-model.sh" "$version_dir" "$models" "$name" "$version"
done
