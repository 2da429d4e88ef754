#!/usr/bin/env bash
# Builds the zkensemble image with podman on a machine without a container registry:
#   e2e/podman/build-image.sh [TAG [PODMAN-BUILD-ARGS...]]     (TAG defaults to localhost/zkensemble:dev)
# The base is the local stand-in from build-base.sh (built first when missing). npm inside the build
# uses the registry and CA bundle this machine's npm is configured with: the registry as a build arg,
# the CA bundle as a build secret, so neither lands in the final image nor in the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=e2e/podman/podman-env.sh
. "$here/podman-env.sh"

tag=${1:-localhost/zkensemble:dev}
shift || true
base=$("$here/build-base.sh")

npm_config() {
  local v
  v=$(cd "$repo" && npm config get "$1" 2>/dev/null) || return 0
  [[ $v == null || $v == undefined ]] || echo "$v"
}

args=(--build-arg "BASE=$base")
registry=$(npm_config registry)
[[ -z $registry ]] || args+=(--build-arg "NPM_REGISTRY=$registry")
cafile=$(npm_config cafile)
[[ -n $cafile && -r $cafile ]] || cafile=/etc/ssl/certs/ca-certificates.crt
[[ ! -r $cafile ]] || args+=(--secret "id=npm_ca,src=$cafile")

started=$SECONDS
podman build --layers -f "$repo/Dockerfile" -t "$tag" "${args[@]}" "$@" "$repo" >&2
printf 'build-image: %s built in %d s (%s)\n' "$tag" $((SECONDS - started)) \
  "$(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')" >&2
echo "$tag"
