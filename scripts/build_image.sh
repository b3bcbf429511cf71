#!/usr/bin/env bash
# Build the PMark container image with Podman on a machine that reaches no container registry.
#
#   scripts/build_image.sh            build (installs Podman & co. when missing), print the tag
#   scripts/build_image.sh --name     print the image name:tag only
#
# The base image is made locally: mmdebstrap builds a Debian bookworm root filesystem (python3,
# python3-venv, ca-certificates) from the same Debian mirror apt uses here, and `podman import`
# turns it into localhost/pmark-base:bookworm. The rootfs tarball is cached under
# ${PMARK_CACHE_DIR:-~/.cache/pmark} and reused while it is younger than PMARK_BASE_MAX_AGE_DAYS
# (default 7). Where a registry is reachable, `podman build --build-arg BASE=python:3.11-slim-bookworm`
# (or `docker build .`) uses the Dockerfile's default base instead.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
IMAGE=${PMARK_IMAGE:-ghcr.io/pmark/pmark:$version}
if [ "${1:-}" = "--name" ]; then
  echo "$IMAGE"
  exit 0
fi

log() { echo "build_image: $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
need=()
for tool in podman buildah mmdebstrap runc newuidmap fuse-overlayfs slirp4netns; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing podman and its helpers (missing: ${need[*]})"
  apt-get update -qq
  apt-get install -y -qq podman buildah mmdebstrap runc uidmap fuse-overlayfs slirp4netns >/dev/null
fi

# crun fails on this kind of host's hybrid cgroups; runc works. Podman reads this file for the
# whole process, so it is set through CONTAINERS_CONF rather than written into /etc.
cache=${PMARK_CACHE_DIR:-$HOME/.cache/pmark}
mkdir -p "$cache"
export CONTAINERS_CONF="$cache/containers.conf"
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF

base_tar="$cache/rootfs-bookworm.tar"
BASE=localhost/pmark-base:bookworm
max_age=${PMARK_BASE_MAX_AGE_DAYS:-7}
# An earlier build could leave a directory here (mmdebstrap picks its output format from the
# name's extension): only a regular file counts as a cached base.
[ -e "$base_tar" ] && [ ! -f "$base_tar" ] && rm -rf "$base_tar"
if [ -z "$(find "$base_tar" -type f -mtime "-$max_age" 2>/dev/null)" ]; then
  # The Debian entries of apt's own sources (deb822 or one-line), nothing else (no third parties).
  sources="$cache/debian.sources"
  : >"$sources"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk 'BEGIN { RS = ""; ORS = "\n\n" } /debian-archive-keyring/' "$f" >>"$sources"
  done
  if [ ! -s "$sources" ]; then
    sources="$cache/debian.list"
    grep -h '^deb .*debian' /etc/apt/sources.list 2>/dev/null >"$sources" || true
  fi
  [ -s "$sources" ] || echo "deb http://deb.debian.org/debian bookworm main" >"$sources"
  log "making the bookworm base with mmdebstrap (cached in $base_tar)"
  part="$cache/rootfs-bookworm.part.tar"
  rm -rf "$part"
  mmdebstrap --quiet --format=tar --variant=apt --include=python3,python3-venv,ca-certificates \
    bookworm "$part" "$sources" </dev/null
  mv "$part" "$base_tar"
  podman rmi -f "$BASE" >/dev/null 2>&1 || true
fi
if ! podman image exists "$BASE"; then
  podman import --quiet "$base_tar" "$BASE" >/dev/null
fi

# pip inside the build needs this host's CA bundle (mounted for the build only, never copied),
# and keeps the wheels it downloaded or built in a wheelhouse on the host for the next build.
mkdir -p "$cache/wheels"
log "building $IMAGE"
start=$(date +%s)
podman build --quiet --isolation chroot --format docker \
  --build-arg "BASE=$BASE" \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$cache/wheels:/wheelhouse" \
  -t "$IMAGE" . >/dev/null
log "built $IMAGE in $(($(date +%s) - start)) s"
echo "$IMAGE"
