#!/usr/bin/env bash
# Build a real kube-apiserver, kube-controller-manager and etcd for the e2e suite from Go modules,
# and the clients the install uses: kubectl (same module as kube-apiserver) and helm.
#
#   tests/e2e/build-controlplane.sh        # prints the bin dir as its last line
#
# Sources: the consumer modules tests/e2e/controlplane/apiserver (k8s.io/kubernetes
# plus one replace per staging module) and tests/e2e/controlplane/etcd
# (go.etcd.io/etcd/server/v3), tests/e2e/controlplane/helm (helm.sh/helm/v3). Binaries land in
#   ${CELGATE_CACHE:-$HOME/.cache/celgate}/controlplane/<version>/bin/
# with the Go module and build caches under ${CELGATE_CACHE}/go/, so a second run
# is a no-op: the build is skipped when both binaries exist and the stamp file
# matches the hash of the go.mod/go.sum files and the build recipe.
#
# Environment:
#   CELGATE_CACHE          cache root (default $HOME/.cache/celgate)
#   CELGATE_GO_PARALLEL    go build -p (default 2; use 1 if the build runs out of memory)
#   GO                     go binary (default: go on PATH, else /usr/local/go/bin/go)
#
# Progress goes to stderr; stdout carries only the bin dir.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mods="$here/controlplane"
cache="${CELGATE_CACHE:-$HOME/.cache/celgate}"
parallel="${CELGATE_GO_PARALLEL:-2}"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
if [[ ! -x "$GO" ]]; then
  echo "build-controlplane: no Go toolchain found (set GO=/path/to/go)" >&2
  exit 1
fi

log() { echo "build-controlplane: $*" >&2; }

# Versions come from the consumer modules' go.mod files.
modver() { awk -v m="$2" '$1 == "require" && $2 == m { print $3 }' "$1"; }
k8s_version="$(modver "$mods/apiserver/go.mod" k8s.io/kubernetes)"
etcd_version="$(modver "$mods/etcd/go.mod" go.etcd.io/etcd/server/v3)"
helm_version="$(modver "$mods/helm/go.mod" helm.sh/helm/v3)"
if [[ ! "$k8s_version" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
  echo "build-controlplane: cannot read the k8s.io/kubernetes version from $mods/apiserver/go.mod" >&2
  exit 1
fi
k8s_major="${BASH_REMATCH[1]}"
k8s_minor="${BASH_REMATCH[2]}"
if [[ -z "$etcd_version" ]]; then
  echo "build-controlplane: cannot read the etcd version from $mods/etcd/go.mod" >&2
  exit 1
fi

# helm in the name: a bin dir built without kubectl and helm (an older recipe) is never touched.
version="k8s-${k8s_version}_etcd-${etcd_version}_helm-${helm_version}"
bin="$cache/controlplane/$version/bin"
stamp="$bin/.stamp"

# Built like hack/lib/golang.sh does (static, stripped); the -X flags make
# /version report the release instead of v0.0.0-master.
cv=k8s.io/component-base/version
apiserver_ldflags="-s -w -X $cv.gitVersion=$k8s_version -X $cv.gitMajor=$k8s_major -X $cv.gitMinor=$k8s_minor -X $cv.gitTreeState=clean"
etcd_ldflags="-s -w"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
go_version="$("$GO" env GOVERSION)"

recipe="recipe=4
go=$go_version
apiserver_ldflags=$apiserver_ldflags
etcd_ldflags=$etcd_ldflags
helm_ldflags=$helm_ldflags"
want_stamp="$(
  {
    printf '%s\n' "$recipe"
    cat "$mods/apiserver/go.mod" "$mods/apiserver/go.sum" "$mods/etcd/go.mod" "$mods/etcd/go.sum" \
      "$mods/helm/go.mod" "$mods/helm/go.sum"
  } | sha256sum | cut -d' ' -f1
)"

is_fresh() {
  [[ -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" && -x "$bin/etcd" && -x "$bin/kubectl" && -x "$bin/helm" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]
}

if is_fresh; then
  log "up to date: $bin"
  echo "$bin"
  exit 0
fi

mkdir -p "$bin" "$cache/go"
# Serialise concurrent runs (e.g. parallel test workers) on one cache.
exec 9>"$cache/controlplane/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
  if is_fresh; then
    log "up to date (built by a concurrent run): $bin"
    echo "$bin"
    exit 0
  fi
fi

export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
# -mod=readonly: go.sum is complete, never rewrite it; -modcacherw: allow rm -rf of the cache.
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false -p=$parallel"

start=$SECONDS
rm -f "$stamp"

# buildDate = the release's publication time (the module proxy has no commit hash).
build_date="$(cd "$mods/apiserver" && "$GO" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"

log "building kube-apiserver $k8s_version with $go_version (-p=$parallel) ..."
(cd "$mods/apiserver" &&
  "$GO" build -trimpath -ldflags "$apiserver_ldflags -X $cv.buildDate=$build_date" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv -f "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
log "kube-apiserver done after $((SECONDS - start)) s"

log "building kube-controller-manager $k8s_version ..."
(cd "$mods/apiserver" &&
  "$GO" build -trimpath -ldflags "$apiserver_ldflags -X $cv.buildDate=$build_date" -o "$bin/kube-controller-manager.tmp" k8s.io/kubernetes/cmd/kube-controller-manager)
mv -f "$bin/kube-controller-manager.tmp" "$bin/kube-controller-manager"
log "kube-controller-manager done after $((SECONDS - start)) s"

log "building kubectl $k8s_version ..."
(cd "$mods/apiserver" &&
  "$GO" build -trimpath -ldflags "$apiserver_ldflags -X $cv.buildDate=$build_date" -o "$bin/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
mv -f "$bin/kubectl.tmp" "$bin/kubectl"
log "kubectl done after $((SECONDS - start)) s"

log "building helm $helm_version ..."
(cd "$mods/helm" && "$GO" build -trimpath -ldflags "$helm_ldflags" -o "$bin/helm.tmp" helm.sh/helm/v3/cmd/helm)
mv -f "$bin/helm.tmp" "$bin/helm"
log "helm done after $((SECONDS - start)) s"

log "building etcd $etcd_version ..."
(cd "$mods/etcd" &&
  "$GO" build -trimpath -ldflags "$etcd_ldflags" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
mv -f "$bin/etcd.tmp" "$bin/etcd"
log "etcd done after $((SECONDS - start)) s"

printf '%s\n' "$want_stamp" >"$stamp"
log "built in $((SECONDS - start)) s: $bin"
echo "$bin"
