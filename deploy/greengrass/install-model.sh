#!/bin/sh
# Greengrass model component install step: move the unpacked model version into Linesight's
# watched models directory atomically. Copy into a dot-directory (ignored by the watcher) on the
# same filesystem, then rename into <models>/<name>/<version>: Linesight never sees it half-copied.
#   install-model.sh ARTIFACT_DIR MODELS_DIR NAME VERSION
set -eu
src=$1 models=$2 name=$3 version=$4
case "$name$version" in *..*|*/*) echo "install-model: bad name or version: $name@$version" >&2; exit 2;; esac
[ -f "$src/manifest.json" ] || { echo "install-model: $src has no manifest.json" >&2; exit 2; }
target="$models/$name/$version"
if [ -e "$target" ]; then echo "install-model: $name@$version is already installed"; exit 0; fi
staging="$models/.incoming-$name-$version-$$"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$models/$name"
cp -R "$src" "$staging"
mv "$staging" "$target"
trap - EXIT
echo "install-model: $name@$version installed in $models"
