#!/usr/bin/env bash
# Builds the miner's rental images without any image registry:
#   1. computemesh/debian:bookworm   - a Debian minbase rootfs made with debootstrap, then `docker import`
#   2. computemesh/rental-sshd:bookworm - packages/miner/images/rental-sshd.Dockerfile (key-only sshd) on top of it
#   3. computemesh/rental-cuda:latest - only when CMESH_CUDA_BASE names a CUDA image already in the local Docker
# The Debian mirror is read from the machine's apt sources. The debootstrap rootfs tarball is cached under
# /var/cache/computemesh (override with CMESH_IMAGE_CACHE), so re-runs are fast; an image that already exists and
# was built from the same inputs is left alone. Set CMESH_REBUILD_IMAGES=1 to force a rebuild.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGES_DIR="$ROOT/packages/miner/images"
CACHE_DIR=${CMESH_IMAGE_CACHE:-/var/cache/computemesh}
SUITE=${CMESH_DEBIAN_SUITE:-bookworm}
BASE_IMAGE="computemesh/debian:$SUITE"
SSHD_IMAGE="computemesh/rental-sshd:$SUITE"
CUDA_IMAGE="computemesh/rental-cuda:latest"
REBUILD=${CMESH_REBUILD_IMAGES:-0}

step() { printf '[build-images] %s\n' "$*"; }
die() { printf '[build-images] error: %s\n' "$*" >&2; exit 1; }
image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# The first http(s) URI in the apt sources whose suites include $SUITE (deb822 first, then the one-line format).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; ok=0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); u=a[2] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
        }
        if (ok && u != "") { print u; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  if [ -r /etc/apt/sources.list ]; then
    uri=$(awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list)
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  fi
  return 1
}

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "dockerd is not answering on its socket"

# ---- 1. base image from debootstrap -------------------------------------------------------------------------
ROOTFS_TAR="$CACHE_DIR/debian-$SUITE-minbase.tar"
if [ "$REBUILD" != 1 ] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  step "$BASE_IMAGE exists, keeping it"
else
  if [ "$REBUILD" = 1 ] || [ ! -s "$ROOTFS_TAR" ]; then
    command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
    MIRROR=$(debian_mirror) || die "no Debian mirror for suite $SUITE in /etc/apt/sources.list.d/*.sources or sources.list"
    mkdir -p "$CACHE_DIR"
    WORK=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    step "debootstrap --variant=minbase $SUITE from the configured apt mirror (about 25 s)"
    start=$SECONDS
    debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # apt caches are dead weight in an image
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar --numeric-owner -C "$WORK/rootfs" -cf "$ROOTFS_TAR.partial" .
    mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
    rm -rf "$WORK"
    trap - EXIT
    step "rootfs cached at $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1), $((SECONDS - start)) s)"
  else
    step "using cached rootfs $ROOTFS_TAR"
  fi
  step "docker import -> $BASE_IMAGE"
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
fi

# ---- 2. sshd rental image ------------------------------------------------------------------------------------
# Identity of the build inputs: the Dockerfile, the files it copies, and the base image id.
inputs_digest() {
  { cat "$IMAGES_DIR/$1" "$IMAGES_DIR/sshd_config" "$IMAGES_DIR/rental-init"; docker image inspect --format '{{.Id}}' "$2"; } \
    | sha256sum | cut -c1-16
}
build_rental() {
  local dockerfile=$1 base=$2 tag=$3 digest
  digest=$(inputs_digest "$dockerfile" "$base")
  if [ "$REBUILD" != 1 ] && [ "$(image_label "$tag" computemesh.inputs)" = "$digest" ]; then
    step "$tag is up to date (inputs $digest)"
    return 0
  fi
  step "docker build $tag from $dockerfile (inputs $digest)"
  DOCKER_BUILDKIT=0 docker build -q -f "$IMAGES_DIR/$dockerfile" --build-arg "BASE_IMAGE=$base" \
    --label computemesh.inputs="$digest" --label computemesh.rental-image=true -t "$tag" "$IMAGES_DIR" >/dev/null
  step "built $tag"
}
build_rental rental-sshd.Dockerfile "$BASE_IMAGE" "$SSHD_IMAGE"

# ---- 3. CUDA rental image (GPU hosts only) --------------------------------------------------------------------
if [ -n "${CMESH_CUDA_BASE:-}" ]; then
  docker image inspect "$CMESH_CUDA_BASE" >/dev/null 2>&1 \
    || die "CMESH_CUDA_BASE=$CMESH_CUDA_BASE is not in the local Docker (load it first; this script never pulls)"
  build_rental rental-cuda.Dockerfile "$CMESH_CUDA_BASE" "$CUDA_IMAGE"
else
  step "no CMESH_CUDA_BASE set: skipping the CUDA rental image (CPU-only host)"
fi

step "done: $(docker image inspect --format '{{.RepoTags}} {{.Size}}' "$SSHD_IMAGE")"
