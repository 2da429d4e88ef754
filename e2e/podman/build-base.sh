#!/usr/bin/env bash
# Builds a local stand-in for the Dockerfile's default base (the official Node 24 bookworm-slim
# image), for machines that reach Debian's and npm's registries but no container registry:
# a debootstrap minbase rootfs, slimmed like Debian's slim images, plus the repository's own Node 24
# binary (node_modules/node), npm from the npm registry, and a `node` user (uid/gid 1000), laid out
# as in the official image (/usr/local/bin). Prints the image's tag on stdout, everything else on
# stderr, so `--build-arg BASE="$(e2e/podman/build-base.sh)"` works.
#
# Cached and idempotent: nothing is done when the image exists; the rootfs tarball is kept under
# ${ZKE_CACHE_DIR:-$HOME/.cache/zkensemble}/base and imported again when the image was removed.
# Building the rootfs needs root (debootstrap) and `npm ci` having been run in the repository.
#
# Environment: ZKE_CACHE_DIR, ZKE_DEBIAN_MIRROR (default: the mirror this machine's apt uses),
# ZKE_BASE_NPM_VERSION (default below).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=e2e/podman/podman-env.sh
. "$here/podman-env.sh"

suite=bookworm
# Bump when the recipe below changes, so an old cached rootfs is not reused.
recipe=1
npm_version=${ZKE_BASE_NPM_VERSION:-11.19.1}
cache=${ZKE_CACHE_DIR:-$HOME/.cache/zkensemble}/base

log() { printf 'build-base: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

command -v podman >/dev/null || die 'podman is not installed'
node_bin="$repo/node_modules/node/bin/node"
[[ -x $node_bin ]] || die "no Node binary at node_modules/node/bin/node: run 'npm ci' first"
node_bin=$(readlink -f "$node_bin")
node_version=$("$node_bin" --version)
node_version=${node_version#v}
[[ $node_version == 24.* ]] || die "node_modules/node is $node_version, not Node 24"

tag="localhost/zkensemble-base:node${node_version}-${suite}-slim-r${recipe}"
tarball="$cache/rootfs-${suite}-node${node_version}-npm${npm_version}-r${recipe}.tar"

if podman image exists "$tag"; then
  log "$tag exists"
  echo "$tag"
  exit 0
fi
started=$SECONDS

# The Debian mirror apt uses here (deb822 or one-line sources), so debootstrap needs no other host.
debian_mirror() {
  if [[ -n ${ZKE_DEBIAN_MIRROR:-} ]]; then
    echo "$ZKE_DEBIAN_MIRROR"
    return
  fi
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk -v suite="$suite" '
      /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (uri != "" && ok) print uri }' "$f" | head -n1
  done | head -n1
  if [[ -r /etc/apt/sources.list ]]; then
    awk -v suite="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) { print (($2 ~ /^\[/) ? $3 : $2); exit } }' \
      /etc/apt/sources.list
  fi
}

build_rootfs() {
  [[ $(id -u) == 0 ]] || die 'building the rootfs needs root (debootstrap)'
  command -v debootstrap >/dev/null || die 'debootstrap is not installed'
  mkdir -p "$cache"
  local npm_tgz="$cache/npm-${npm_version}.tgz"
  if [[ ! -s $npm_tgz ]]; then
    log "npm pack npm@$npm_version"
    local packdir
    packdir=$(mktemp -d "$cache/npm-pack.XXXXXX")
    (cd "$packdir" && npm pack --silent "npm@$npm_version" >/dev/null)
    mv "$packdir/npm-${npm_version}.tgz" "$npm_tgz"
    rmdir "$packdir"
  fi

  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap cleanup_work EXIT
  local root="$work/rootfs" mirror
  mirror=$(debian_mirror | head -n1)
  log "debootstrap $suite (minbase) from ${mirror:-the default mirror of debootstrap}"
  local t0=$SECONDS
  # shellcheck disable=SC2086 # an empty mirror must vanish, not become an empty argument
  debootstrap --variant=minbase --include=libstdc++6 "$suite" "$root" $mirror >"$work/debootstrap.log" 2>&1 ||
    {
      tail -n 20 "$work/debootstrap.log" >&2
      die 'debootstrap failed'
    }
  log "debootstrap took $((SECONDS - t0)) s"

  # Slim like Debian's slim images: no docs (copyright kept), man pages, info or translations, and
  # the same rules for packages installed later.
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,info,lintian,linda}/* "$root"/var/cache/debconf/*-old
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
  find "$root/var/log" -type f -delete
  # The runtime provides /dev; device nodes in an image layer are only noise.
  find "$root/dev" -mindepth 1 -delete

  # Node and npm where the official image has them.
  install -m 755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" /usr/local/bin/node --version >/dev/null || die 'node does not run in the rootfs'
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

  tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  log "rootfs tarball $(du -h "$tarball" | cut -f1) in $((SECONDS - started)) s"
}

# Removes the scratch rootfs, never crossing into a filesystem still mounted inside it.
cleanup_work() {
  [[ -n ${work:-} && -d $work ]] || return 0
  local m
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$work"
  rm -f "$tarball.tmp"
}

[[ -s $tarball ]] || build_rootfs
log "podman import $tarball"
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'CMD ["node"]' \
  "$tarball" "$tag" >/dev/null
log "$tag ready in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}'))"
echo "$tag"
