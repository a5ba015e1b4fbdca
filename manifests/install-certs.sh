#!/usr/bin/env bash
# Install celgate's serving certificate: the kubernetes.io/tls Secret celgate-tls in
# celgate-system, and the matching caBundle in the ValidatingWebhookConfiguration celgate.
#
#   manifests/install-certs.sh            # create the Secret if absent, then patch the caBundle
#   manifests/install-certs.sh --rotate   # replace the Secret with a new CA and certificate
#
# Idempotent: run it before `kubectl apply` (creates the Secret, so the Pods can start) and
# again after (patches the caBundle of the now existing webhook configuration). An existing
# Secret is reused, so its CA and the caBundle always match. celgate reloads a rotated
# certificate without a restart; the kubelet refreshes the mounted Secret within about a minute.
#
# Needs kubectl (current context) and either celgate on PATH or this repository's Python package
# (CELGATE="python -m webhook.cli").
#
# Environment: NAMESPACE (celgate-system), SERVICE (celgate), WEBHOOK (celgate), DAYS (365),
#              CELGATE (celgate), KUBECTL (kubectl).
set -euo pipefail

namespace="${NAMESPACE:-celgate-system}"
service="${SERVICE:-celgate}"
webhook="${WEBHOOK:-celgate}"
days="${DAYS:-365}"
read -r -a celgate <<<"${CELGATE:-celgate}"
read -r -a kubectl <<<"${KUBECTL:-kubectl}"
secret="${service}-tls"

rotate=false
case "${1:-}" in
  "") ;;
  --rotate) rotate=true ;;
  *) echo "usage: $0 [--rotate]" >&2; exit 2 ;;
esac

log() { echo "install-certs: $*" >&2; }

if ! "${kubectl[@]}" get namespace "$namespace" >/dev/null 2>&1; then
  log "namespace $namespace does not exist; apply manifests/namespace.yaml first"
  exit 1
fi

if $rotate || ! "${kubectl[@]}" -n "$namespace" get secret "$secret" >/dev/null 2>&1; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # The CA key is not kept anywhere but this temporary directory: a rotation makes a new CA.
  "${celgate[@]}" certs --out "$work" --service "$service" --namespace "$namespace" \
    --days "$days" --secret-manifest >"$work/secret.yaml"
  "${kubectl[@]}" apply -f "$work/secret.yaml" >&2
  log "secret $namespace/$secret $($rotate && echo rotated || echo created)"
else
  log "secret $namespace/$secret exists; reusing it (--rotate replaces it)"
fi

ca_bundle="$("${kubectl[@]}" -n "$namespace" get secret "$secret" -o jsonpath='{.data.ca\.crt}')"
if [[ -z "$ca_bundle" ]]; then
  log "secret $namespace/$secret has no ca.crt; rerun with --rotate"
  exit 1
fi

if ! "${kubectl[@]}" get validatingwebhookconfiguration "$webhook" >/dev/null 2>&1; then
  log "ValidatingWebhookConfiguration $webhook not found yet: apply the manifests, then run this again"
  exit 0
fi
count="$("${kubectl[@]}" get validatingwebhookconfiguration "$webhook" -o jsonpath='{range .webhooks[*]}x{end}')"
patch="["
for ((i = 0; i < ${#count}; i++)); do
  [[ $i -gt 0 ]] && patch+=","
  patch+="{\"op\":\"add\",\"path\":\"/webhooks/$i/clientConfig/caBundle\",\"value\":\"$ca_bundle\"}"
done
patch+="]"
"${kubectl[@]}" patch validatingwebhookconfiguration "$webhook" --type=json -p "$patch" >&2
log "caBundle of ValidatingWebhookConfiguration $webhook patched (${#count} webhook(s))"
