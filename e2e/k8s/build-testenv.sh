#!/usr/bin/env bash
# Builds a real Kubernetes control plane for the operator's integration tests, from the Go module proxy only:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok (+ its stage definitions) and helm.
# Binaries go to a cache outside the repo, one directory per Kubernetes version; each binary has a stamp file
# naming the version it was built from, so a re-run skips what is already there (seconds on a warm cache).
# A cold build takes roughly 15-25 minutes on 2 cores. Prints the cache directory as its last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}" # no leading v; staging modules are published as v0.<minor>.<patch>
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-0.8.0}"
HELM_VERSION="${HELM_VERSION:-3.22.0}"
OUT="${ZKE_CACHE_DIR:-$HOME/.cache/zkensemble}/k8s-v$K8S_VERSION"

log() { echo "== build-testenv $(date +%H:%M:%S): $*"; }
die() {
  echo "== build-testenv: ERROR: $*" >&2
  exit 1
}
trap 'echo "== build-testenv: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  log "go is not on PATH; using /usr/local/go/bin"
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null ||
  die "go is not on PATH (and not in /usr/local/go/bin). Install Go >= 1.26 (the Kubernetes $K8S_VERSION modules need it)."
# Never let go fetch another toolchain; the build uses the one installed here.
export GOTOOLCHAIN=local CGO_ENABLED=0
GO_VERSION="$(go env GOVERSION)"
case "$GO_VERSION" in
go1.2[6-9]* | go1.[3-9][0-9]*) ;;
*) die "$GO_VERSION is too old: Kubernetes $K8S_VERSION needs Go >= 1.26" ;;
esac

mkdir -p "$OUT"
WORK="$(mktemp -d -t zke-build-testenv.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
log "cache $OUT ($GO_VERSION, k8s $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, helm $HELM_VERSION)"

# up_to_date NAME VERSION: the binary exists and was built from VERSION.
up_to_date() { [[ -x "$OUT/$1" && -f "$OUT/$1.version" && "$(cat "$OUT/$1.version")" == "$2" ]]; }
# install_bin NAME VERSION: move a freshly built $WORK/bin/NAME into the cache, so an interrupted build never
# leaves a half-written binary that a later run would take as built.
install_bin() {
  mv -f "$WORK/bin/$1" "$OUT/$1"
  echo "$2" >"$OUT/$1.version"
  log "built $1 $2 ($(du -h "$OUT/$1" | cut -f1))"
}
mkdir -p "$WORK/bin"

# ---- kube-apiserver, kube-controller-manager, kube-scheduler, kubectl -----------------------------------------
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths, so it cannot be
# installed with `go install pkg@version`. A wrapper main module replaces each staging module with its published tag.
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
kube_missing=()
for c in "${KUBE_CMDS[@]}"; do
  if up_to_date "$c" "v$K8S_VERSION"; then log "$c v$K8S_VERSION already built"; else kube_missing+=("$c"); fi
done
if ((${#kube_missing[@]} > 0)); then
  log "building ${kube_missing[*]} v$K8S_VERSION"
  mkdir "$WORK/kube" && cd "$WORK/kube"
  go mod init local/zke-testenv-kube >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": *"\([^"]*\)".*/\1/p')"
  [[ -f "$gomod" ]] || die "could not download k8s.io/kubernetes@v$K8S_VERSION's go.mod"
  # Staging modules: replaced by ./staging/... or required at v0.0.0 in k8s.io/kubernetes's go.mod.
  staging="$(
    {
      sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod"
      sed -n 's#^[[:space:]]*\(require[[:space:]]\{1,\}\)\{0,1\}\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]\{1,\}v0\.0\.0\([[:space:]].*\)\{0,1\}$#\2#p' "$gomod"
    } | sort -u
  )"
  [[ -n "$staging" ]] || die "found no staging modules in $gomod"
  log "replacing $(wc -w <<<"$staging") staging modules with v0.${K8S_VERSION#1.}"
  for m in $staging; do go mod edit -replace="$m=$m@v0.${K8S_VERSION#1.}"; done
  if grep '=>' "$gomod" | grep -v '=>[[:space:]]*\./staging/' >&2; then
    die "k8s.io/kubernetes@v$K8S_VERSION has the non-staging replace directives above; add them to this script"
  fi
  godebug="$(sed -n 's/^godebug[[:space:]]\{1,\}default=\([^[:space:]]*\).*/\1/p' "$gomod")"
  [[ -z "$godebug" ]] || go mod edit -godebug="default=$godebug"
  tools=()
  for c in "${KUBE_CMDS[@]}"; do tools+=("k8s.io/kubernetes/cmd/$c@v$K8S_VERSION"); done
  go get -tool "${tools[@]}"
  # Version stamping as in Kubernetes' hack/lib/version.sh; unstamped binaries report v0.0.0-master.
  minor="${K8S_VERSION#1.}"
  minor="${minor%%.*}"
  ldflags="-s -w"
  for kv in "gitVersion=v$K8S_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
    "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    ldflags+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  for c in "${kube_missing[@]}"; do
    log "go build $c"
    go build -mod=mod -trimpath -ldflags "$ldflags" -o "$WORK/bin/$c" "k8s.io/kubernetes/cmd/$c"
    if [[ "$c" == kubectl ]]; then v="$("$WORK/bin/$c" version --client 2>&1)"; else v="$("$WORK/bin/$c" --version 2>&1)"; fi
    grep -q "v$K8S_VERSION" <<<"$v" || die "$c reports '$v', expected v$K8S_VERSION"
    install_bin "$c" "v$K8S_VERSION"
  done
fi

# ---- etcd: go.etcd.io/etcd/server/v3 has replace directives, so it too needs a (trivial) wrapper module ----------
if up_to_date etcd "v$ETCD_VERSION"; then
  log "etcd v$ETCD_VERSION already built"
else
  log "building etcd v$ETCD_VERSION"
  mkdir "$WORK/etcd" && cd "$WORK/etcd"
  go mod init local/zke-testenv-etcd >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -mod=mod -trimpath -ldflags "-s -w" -o "$WORK/bin/etcd" go.etcd.io/etcd/server/v3
  v="$("$WORK/bin/etcd" --version 2>&1)"
  grep -q "etcd Version: $ETCD_VERSION" <<<"$v" || die "etcd reports '$v', expected $ETCD_VERSION"
  install_bin etcd "v$ETCD_VERSION"
fi

# ---- kwok (no replace directives: plain go install) and its stock "fast" stage definitions ----------------------
if up_to_date kwok "v$KWOK_VERSION" && [[ -s "$OUT/kwok-stages.yaml" ]]; then
  log "kwok v$KWOK_VERSION already built"
else
  log "building kwok v$KWOK_VERSION"
  GOBIN="$WORK/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  stages="$(go env GOMODCACHE)/sigs.k8s.io/kwok@v$KWOK_VERSION/kustomize/stage"
  # The set kwokctl uses by default: nodes become Ready and keep a lease, pods become Running/Ready,
  # finish, and are removed when deleted.
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f "$stages/$f" ]] || die "kwok stage $stages/$f not found"
    echo '---'
    cat "$stages/$f"
  done >"$WORK/kwok-stages.yaml"
  mv -f "$WORK/kwok-stages.yaml" "$OUT/kwok-stages.yaml"
  install_bin kwok "v$KWOK_VERSION"
fi

# ---- helm, for the chart tests (issue 7); no replace directives: plain go install --------------------------------
if up_to_date helm "v$HELM_VERSION"; then
  log "helm v$HELM_VERSION already built"
else
  log "building helm v$HELM_VERSION"
  helm_mod="helm.sh/helm/v${HELM_VERSION%%.*}"
  # Stamped as release builds are; unstamped, `helm version` says only v<major>.<minor>.
  GOBIN="$WORK/bin" go install -trimpath \
    -ldflags "-s -w -X $helm_mod/internal/version.version=v$HELM_VERSION -X $helm_mod/internal/version.gitTreeState=clean" \
    "$helm_mod/cmd/helm@v$HELM_VERSION"
  v="$("$WORK/bin/helm" version --short 2>&1)"
  [[ "$v" == "v$HELM_VERSION"* ]] || die "helm reports '$v', expected v$HELM_VERSION"
  install_bin helm "v$HELM_VERSION"
fi

log "ready: $OUT"
echo "$OUT"
