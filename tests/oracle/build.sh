#!/usr/bin/env bash
# Build the cel-go reference evaluator (the test oracle) and print its path as the last line.
#
#   tests/oracle/build.sh
#
# The binary lands in ${CELGATE_CACHE:-$HOME/.cache/celgate}/oracle/<hash>/oracle, where <hash>
# covers go.mod, go.sum, the Go sources and the Go version; an existing binary is reused. The
# module and build caches are tests/e2e/build-controlplane.sh's (${CELGATE_CACHE}/go/), so the
# kube-apiserver build and this one share downloads.
#
# Environment: CELGATE_CACHE, CELGATE_GO_PARALLEL (go build -p, default 2), GO (go binary).
# Progress goes to stderr; stdout carries only the binary path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CELGATE_CACHE:-$HOME/.cache/celgate}"
parallel="${CELGATE_GO_PARALLEL:-2}"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
if [[ ! -x "$GO" ]]; then
  echo "oracle: no Go toolchain found (set GO=/path/to/go)" >&2
  exit 1
fi

hash="$(
  {
    "$GO" env GOVERSION
    cd "$here" && cat go.mod go.sum ./*.go
  } | sha256sum | cut -c1-16
)"
out="$cache/oracle/$hash"
binary="$out/oracle"
if [[ -x "$binary" ]]; then
  echo "oracle: up to date: $binary" >&2
  echo "$binary"
  exit 0
fi

mkdir -p "$out" "$cache/go"
exec 9>"$cache/oracle/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if [[ ! -x "$binary" ]]; then
  export GOMODCACHE="$cache/go/mod"
  export GOCACHE="$cache/go/build"
  export GOTOOLCHAIN=local
  export CGO_ENABLED=0
  # -mod=readonly: go.sum is complete, never rewrite it; -modcacherw: allow rm -rf of the cache.
  export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false -p=$parallel"
  start=$SECONDS
  echo "oracle: building with $("$GO" env GOVERSION) (-p=$parallel) ..." >&2
  (cd "$here" && "$GO" build -trimpath -o "$binary.tmp" .)
  mv -f "$binary.tmp" "$binary"
  echo "oracle: built in $((SECONDS - start)) s: $binary" >&2
fi
echo "$binary"
