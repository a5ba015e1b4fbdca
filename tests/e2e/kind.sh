#!/usr/bin/env bash
# The e2e suite against celgate installed in a kind cluster, the way a user installs it.
#
#   tests/e2e/kind.sh
#
# Needs docker, kind and kubectl. Steps: create the cluster from kind-config.yaml (reused when it
# exists), build the image and load it into the nodes, install manifests/ with the serving
# certificates (self-managed by celgate), wait for the rollout, check a privileged Pod is denied
# through the installed webhook, then run tests/e2e/run with CELGATE_E2E_KUBECONFIG pointing at
# the cluster. The e2e policies (tests/e2e/policies) are added to celgate's policy ConfigMap so
# the differential cases find them in the cluster too.
#
# Environment: KIND (kind), KUBECTL (kubectl), DOCKER (docker), KIND_NODE_IMAGE (kind's default
# when unset; Kubernetes 1.31 or later), CELGATE_KIND_KEEP=1 keeps the cluster afterwards.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
kind="${KIND:-kind}"
docker="${DOCKER:-docker}"
cluster=celgate
image=celgate:e2e
work=/tmp/celgate-kind   # kind-config.yaml mounts the audit policy from here
kubeconfig="$work/kubeconfig"

log() { echo "kind.sh: $*" >&2; }
for tool in "$docker" "$kind" "${KUBECTL:-kubectl}"; do
  command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done

mkdir -p "$work"
python - "$work/audit-policy.yaml" <<'PY'
import sys
sys.path.insert(0, "tests/e2e")
from controlplane import AUDIT_POLICY  # the same policy as the local control plane
open(sys.argv[1], "w").write(AUDIT_POLICY)
PY

if "$kind" get clusters | grep -qx "$cluster"; then
  log "reusing kind cluster $cluster"
else
  "$kind" create cluster --name "$cluster" --config kind-config.yaml ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 120s
fi
if [[ "${CELGATE_KIND_KEEP:-}" != 1 ]]; then
  trap '"$kind" delete cluster --name "$cluster"' EXIT
fi
"$kind" get kubeconfig --name "$cluster" >"$kubeconfig"
export KUBECONFIG="$kubeconfig"
kubectl="${KUBECTL:-kubectl}"

log "building $image"
"$docker" build -t "$image" .
"$kind" load docker-image "$image" --name "$cluster"

# An overlay: the e2e image tag, and the e2e policies merged into the policy ConfigMap.
overlay="$work/overlay"
rm -rf "$overlay" && mkdir -p "$overlay"
{
  echo "resources:"
  echo "- $(python -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$repo/manifests" "$overlay")"
  echo "images:"
  echo "- name: celgate"
  echo "  newTag: e2e"
  echo "configMapGenerator:"
  echo "- name: celgate-policies"
  echo "  namespace: celgate-system"
  echo "  behavior: merge"
  echo "  files:"
  for f in tests/e2e/policies/*.yaml; do echo "  - e2e.$(basename "$f")=$repo/$f"; done
} >"$overlay/kustomization.yaml"

log "installing manifests/"
"$kubectl" apply -f manifests/namespace.yaml
# No certificate step: celgate creates the Secret celgate-tls and writes its own caBundle.
# (--load-restrictor: only for this overlay, whose e2e policy files live outside it.)
"$kubectl" kustomize --load-restrictor=LoadRestrictionsNone "$overlay" | "$kubectl" apply --server-side -f -
"$kubectl" -n celgate-system rollout restart deployment/celgate      # pick up the merged ConfigMap now
"$kubectl" -n celgate-system rollout status deployment/celgate --timeout=300s

log "checking the installed webhook denies a privileged Pod"
"$kubectl" create namespace kind-smoke --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" label --overwrite namespace kind-smoke pod-security.kubernetes.io/enforce=baseline
smoke_pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"smoke"},"spec":{"containers":[{"name":"c","image":"celgate.invalid/noop:0","securityContext":{"privileged":true}}]}}'
for attempt in $(seq 1 30); do
  if out="$(echo "$smoke_pod" | "$kubectl" -n kind-smoke create --dry-run=server -f - 2>&1)"; then
    log "privileged Pod admitted (attempt $attempt): $out"
  elif grep -q 'admission webhook "validate.celgate.io" denied the request' <<<"$out"; then
    log "denied by celgate: $out"
    break
  else
    log "attempt $attempt: $out"
  fi
  [[ $attempt == 30 ]] && { log "the installed webhook never denied the privileged Pod"; exit 1; }
  sleep 2
done

# The suite registers its own webhook configuration (celgate-e2e) for its namespaces; keep the
# installed one away from them so each request is reviewed once.
"$kubectl" patch validatingwebhookconfiguration celgate --type=json -p \
  '[{"op":"add","path":"/webhooks/0/namespaceSelector/matchExpressions/-","value":{"key":"celgate.e2e/suite","operator":"DoesNotExist"}}]'

CELGATE_E2E_KUBECONFIG="$kubeconfig" \
CELGATE_E2E_AUDIT_LOG_CMD="$docker exec ${cluster}-control-plane cat /var/log/celgate-audit/audit.log" \
  tests/e2e/run
