"""The post-install checklist ``celgate verify`` runs against a cluster.

Each check is a function from what it read to ``Check`` lines (✓ or ✗ with the reason), so a
reader sees the list in ``CHECKS`` order. The webhook may be registered by Service (the
shipped manifests) or by URL (the e2e suite, an out-of-cluster celgate): both are handled,
the certificate read from the Service's TLS Secret or from the URL's TLS handshake.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import ssl
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from webhook.kube_rest import KubeREST

WEBHOOK_CONFIGS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
PSA_LABEL_PREFIX = "pod-security.kubernetes.io/"
EXPIRY_WARNING_DAYS = 14
EVALUATION_DEADLINE_SECONDS = 8.0


@dataclass
class Check:
    ok: bool
    line: str
    details: list[str] = field(default_factory=list)


@dataclass
class VerifyOptions:
    webhook_config: str = "celgate"
    tls_secret: str = "celgate-tls"
    allow_fail_open: bool = False
    min_certificate_days: float = EXPIRY_WARNING_DAYS
    canary: Callable[[], Any] | None = None  # returns a webhook.canary.CanaryResult


@dataclass
class Context:
    """What the checks share: the configuration and the replicas' /policies answers."""

    rest: KubeREST
    options: VerifyOptions
    config: dict[str, Any] | None = None
    ca_pem: bytes = b""
    policies: list[dict[str, Any]] = field(default_factory=list)


def _hooks(ctx: Context) -> list[dict[str, Any]]:
    return (ctx.config or {}).get("webhooks") or []


def check_configuration(ctx: Context) -> list[Check]:
    ctx.config = ctx.rest.get(f"{WEBHOOK_CONFIGS}/{ctx.options.webhook_config}")
    if ctx.config is None:
        return [Check(False, f"ValidatingWebhookConfiguration {ctx.options.webhook_config} not found: nothing calls celgate")]
    names = ", ".join(h["name"] for h in _hooks(ctx))
    checks = [Check(bool(_hooks(ctx)), f"ValidatingWebhookConfiguration {ctx.options.webhook_config} present ({names or 'no webhooks'})")]
    bundles = {h.get("clientConfig", {}).get("caBundle", "") for h in _hooks(ctx)}
    ctx.ca_pem = base64.b64decode(next(iter(bundles))) if len(bundles) == 1 and "" not in bundles else b""
    if not ctx.ca_pem:
        checks.append(Check(False, "caBundle missing (or different between webhooks): run manifests/install-certs.sh"))
    return checks


def check_endpoints(ctx: Context) -> list[Check]:
    checks = []
    for hook in _hooks(ctx):
        client = hook.get("clientConfig") or {}
        if "url" in client:
            checks.append(Check(True, f"{hook['name']}: registered by URL {client['url']}"))
            continue
        service = client.get("service") or {}
        ns, name = service.get("namespace"), service.get("name")
        if ctx.rest.get(f"/api/v1/namespaces/{ns}/services/{name}") is None:
            checks.append(Check(False, f"{hook['name']}: Service {ns}/{name} not found"))
            continue
        slices = ctx.rest.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                              f"?labelSelector=kubernetes.io%2Fservice-name%3D{name}") or {}
        ready = [e for s in slices.get("items") or [] for e in s.get("endpoints") or []
                 if (e.get("conditions") or {}).get("ready")]
        checks.append(Check(bool(ready), f"{hook['name']}: Service {ns}/{name} has {len(ready)} ready endpoint(s)"))
    return checks


def _serving_certificate(ctx: Context, hook: dict[str, Any]) -> tuple[x509.Certificate | None, str, str]:
    """(leaf certificate, host it must be valid for, where it came from)."""
    client = hook.get("clientConfig") or {}
    if "url" in client:
        parsed = urllib.parse.urlsplit(client["url"])
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout=5) as raw:
            with insecure.wrap_socket(raw, server_hostname=parsed.hostname) as tls:
                der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der), str(parsed.hostname), f"the TLS handshake with {parsed.netloc}"
    service = client.get("service") or {}
    secret = ctx.rest.get(f"/api/v1/namespaces/{service.get('namespace')}/secrets/{ctx.options.tls_secret}")
    if secret is None:
        return None, "", f"Secret {service.get('namespace')}/{ctx.options.tls_secret}"
    pem = base64.b64decode((secret.get("data") or {}).get("tls.crt", ""))
    return (x509.load_pem_x509_certificate(pem), f"{service.get('name')}.{service.get('namespace')}.svc",
            f"Secret {service.get('namespace')}/{ctx.options.tls_secret}")


def _issued_by_bundle(cert: x509.Certificate, bundle: bytes) -> bool:
    for ca in x509.load_pem_x509_certificates(bundle):
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (InvalidSignature, ValueError, TypeError):  # not this CA (or not a key type it could sign with)
            continue
    return False


def _names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {str(v) for v in san.get_values_for_type(x509.IPAddress)}


def check_certificate(ctx: Context) -> list[Check]:
    if not ctx.ca_pem or not _hooks(ctx):
        return []
    hook = _hooks(ctx)[0]
    try:
        cert, host, source = _serving_certificate(ctx, hook)
    except (OSError, ValueError) as exc:
        return [Check(False, f"serving certificate unreadable: {exc}")]
    if cert is None:
        return [Check(False, f"serving certificate not found in {source}")]
    checks = []
    if _issued_by_bundle(cert, ctx.ca_pem):
        checks.append(Check(True, f"caBundle validates the serving certificate (from {source})"))
    else:
        checks.append(Check(False, f"caBundle does NOT validate the serving certificate from {source}: "
                                   "the API server cannot call celgate (failurePolicy decides); re-run manifests/install-certs.sh"))
    if host not in _names(cert):
        checks.append(Check(False, f"serving certificate is not valid for {host} (it names {', '.join(sorted(_names(cert))) or 'nothing'})"))
    left = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    days = left.total_seconds() / 86400
    enough = days > ctx.options.min_certificate_days
    checks.append(Check(enough, f"serving certificate expires {cert.not_valid_after_utc:%Y-%m-%d} ({days:.1f} days)"
                        + ("" if enough else f", under {ctx.options.min_certificate_days:g}: rotate it (manifests/install-certs.sh --rotate)")))
    return checks


def _excluded(selector: dict[str, Any], namespace: str) -> bool:
    return any(e.get("key") == "kubernetes.io/metadata.name" and e.get("operator") == "NotIn" and namespace in (e.get("values") or [])
               for e in selector.get("matchExpressions") or [])


def check_settings(ctx: Context) -> list[Check]:
    checks = []
    for hook in _hooks(ctx):
        policy = hook.get("failurePolicy", "Fail")
        fail_open_ok = policy == "Fail" or ctx.options.allow_fail_open
        checks.append(Check(fail_open_ok, f"{hook['name']}: failurePolicy {policy}"
                            + ("" if policy == "Fail" else " (a down celgate admits everything unchecked)")))
        timeout = hook.get("timeoutSeconds", 10)
        checks.append(Check(EVALUATION_DEADLINE_SECONDS < timeout <= 30,
                            f"{hook['name']}: timeoutSeconds {timeout} (celgate's evaluation deadline is "
                            f"{EVALUATION_DEADLINE_SECONDS:g}s; it must be above that and at most 30)"))
        selector = hook.get("namespaceSelector") or {}
        service_ns = ((hook.get("clientConfig") or {}).get("service") or {}).get("namespace")
        required = ["kube-system"] + ([service_ns] if service_ns else [])
        missing = [ns for ns in required if not _excluded(selector, ns)]
        checks.append(Check(not missing, f"{hook['name']}: namespaceSelector excludes {', '.join(required)}"
                            if not missing else f"{hook['name']}: namespaceSelector does not exclude {', '.join(missing)}: "
                            "a broken celgate could block its own recovery"))
        side_effects = hook.get("sideEffects")
        checks.append(Check(side_effects in ("None", "NoneOnDryRun"), f"{hook['name']}: sideEffects {side_effects}"
                            + ("" if side_effects in ("None", "NoneOnDryRun") else ": dry-run requests (and the canary) are refused")))
    return checks


def _get_json(url: str, ca_pem: bytes) -> dict[str, Any]:
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        return json.loads(response.read())


def check_replicas(ctx: Context) -> list[Check]:
    if not _hooks(ctx):
        return []
    client = _hooks(ctx)[0].get("clientConfig") or {}
    answers: list[tuple[str, dict[str, Any]]] = []
    try:
        if "url" in client:
            parsed = urllib.parse.urlsplit(client["url"])
            base = f"{parsed.scheme}://{parsed.netloc}"
            # one URL, several worker processes behind it: ask a few times
            answers = [(base, _get_json(f"{base}/policies", ctx.ca_pem)) for _ in range(4)]
        else:
            service = client.get("service") or {}
            ns, name = service.get("namespace"), service.get("name")
            slices = ctx.rest.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                                  f"?labelSelector=kubernetes.io%2Fservice-name%3D{name}") or {}
            for item in slices.get("items") or []:
                port = (item.get("ports") or [{}])[0].get("port", 8443)
                for endpoint in item.get("endpoints") or []:
                    pod = (endpoint.get("targetRef") or {}).get("name")
                    if pod and (endpoint.get("conditions") or {}).get("ready"):
                        answers.append((pod, ctx.rest.must("GET", f"/api/v1/namespaces/{ns}/pods/https:{pod}:{port}/proxy/policies")))
    except (OSError, ValueError, RuntimeError) as exc:
        return [Check(False, f"could not read /policies from celgate: {exc}")]
    if not answers:
        return [Check(False, "no celgate replica answered /policies")]
    ctx.policies = [body for _, body in answers]
    generations = sorted({body.get("generation") for _, body in answers})
    loaded = min(len(body.get("policies") or []) for _, body in answers)
    errors = [f"{where}: {body['lastReloadError']}" for where, body in answers if body.get("lastReloadError")]
    return [
        Check(loaded > 0, f"policies loaded: {loaded} ValidatingAdmissionPolicies"),
        Check(len(generations) == 1, f"policy generation {'equal' if len(generations) == 1 else 'DIFFERS'} across "
                                     f"{len({w for w, _ in answers})} replica(s): {', '.join(map(str, generations))}"),
        Check(not errors, "last policy reload succeeded everywhere" if not errors else f"policy reload failing: {'; '.join(errors)}"),
    ]


def check_namespaces(ctx: Context) -> list[Check]:
    namespaces = [ns for page in ctx.rest.list_pages("/api/v1/namespaces") for ns in page]
    unlabelled = sorted(ns["metadata"]["name"] for ns in namespaces
                        if not any(k.startswith(PSA_LABEL_PREFIX) for k in (ns["metadata"].get("labels") or {})))
    line = (f"{len(unlabelled)} of {len(namespaces)} namespaces carry no Pod Security label "
            "(the shipped policies do not select them)")
    return [Check(True, line, unlabelled)]


def check_canary(ctx: Context) -> list[Check]:
    if ctx.options.canary is None:
        return []
    try:
        result = ctx.options.canary()
    except (OSError, RuntimeError, ValueError) as exc:
        return [Check(False, f"canary could not run: {exc}")]
    return [Check(ok, f"canary: {line}") for ok, line in result.lines]


def _params(entry: dict[str, Any]) -> str:
    ref = entry.get("paramRef")
    if not ref:
        return "-"
    where = "selector" if ref.get("selector") else "/".join(filter(None, (ref.get("namespace"), ref.get("name"))))
    return f"{where} (if missing: {ref.get('parameterNotFoundAction') or 'Deny'})"


def check_listing(ctx: Context) -> list[Check]:
    if not ctx.policies:
        return []
    enforcement = ctx.policies[0].get("enforcement") or []
    table = [("POLICY", "BINDING", "ACTIONS", "PARAMS")] + [
        (e["policy"], e["binding"], ",".join(e["validationActions"]), _params(e)) for e in enforcement]
    widths = [max(len(row[column]) for row in table) for column in range(3)]
    rows = [" ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " " + row[3] for row in table]
    return [Check(bool(enforcement), f"celgate enforces {len(enforcement)} policy bindings", rows)]


CHECKS: tuple[Callable[[Context], list[Check]], ...] = (
    check_configuration, check_endpoints, check_certificate, check_settings, check_replicas,
    check_namespaces, check_canary, check_listing,
)


def verify(rest: KubeREST, options: VerifyOptions) -> list[Check]:
    ctx = Context(rest, options)
    results: list[Check] = []
    for check in CHECKS:
        results.extend(check(ctx))
        if check is check_configuration and ctx.config is None:
            break
    return results
