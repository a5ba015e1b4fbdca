"""webhook/cert_rotation.py: each step of the self-managed certificate plan, from an empty Secret
through a CA rotation, with trust always ahead of what is served."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509

from webhook.cert_rotation import PENDING_ANNOTATION, ROTATE_ANNOTATION, CertPolicy, plan

POLICY = CertPolicy("celgate", "celgate-system", ca_days=30, cert_days=9, grace_seconds=20)
# The certificates are made with the real clock; the plan is asked at moments relative to it.
NOW = datetime.datetime.now(datetime.timezone.utc)


def certs(data: dict[str, str], key: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(base64.b64decode(data[key]))


def serving_is_trusted(data: dict[str, str]) -> bool:
    serving = certs(data, "tls.crt")[0]
    for ca in certs(data, "ca.crt"):
        try:
            serving.verify_directly_issued_by(ca)
            return True
        except Exception:  # noqa: BLE001
            continue
    return False


def created() -> dict[str, str]:
    step = plan(None, {}, POLICY, NOW)
    assert step.action == "create"
    return step.data


def test_a_missing_secret_is_created_with_a_ca_and_a_serving_certificate_for_the_service():
    data = created()
    serving = certs(data, "tls.crt")[0]
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "celgate.celgate-system.svc" in names
    assert serving_is_trusted(data)
    assert plan(data, {}, POLICY, NOW).action == "none"


def test_the_serving_certificate_is_reissued_by_the_same_ca_when_a_third_of_its_life_is_left():
    data = created()
    later = NOW + datetime.timedelta(days=6.5)
    step = plan(data, {}, POLICY, later)
    assert step.action == "issue-serving"
    assert step.data["ca.crt"] == data["ca.crt"] and step.data["tls.crt"] != data["tls.crt"]
    assert serving_is_trusted(step.data)


def test_a_ca_rotation_trusts_the_new_ca_first_and_serves_from_it_only_after_the_grace_period():
    data = created()
    trust = plan(data, {ROTATE_ANNOTATION: "now"}, POLICY, NOW)
    assert trust.action == "trust-new-ca"
    assert len(certs(trust.data, "ca.crt")) == 2
    assert trust.data["tls.crt"] == data["tls.crt"] and serving_is_trusted(trust.data)
    annotations = {PENDING_ANNOTATION: trust.annotations[PENDING_ANNOTATION]}
    assert trust.annotations[ROTATE_ANNOTATION] is None

    assert plan(trust.data, annotations, POLICY, NOW + datetime.timedelta(seconds=5)).action == "none"
    serve = plan(trust.data, annotations, POLICY, NOW + datetime.timedelta(seconds=21))
    assert serve.action == "issue-serving" and serve.annotations == {PENDING_ANNOTATION: None}
    assert serving_is_trusted(serve.data)
    new_ca = certs(serve.data, "ca.crt")[0]
    certs(serve.data, "tls.crt")[0].verify_directly_issued_by(new_ca)
    # The old CA stays trusted for replicas that still serve the old certificate.
    old_serving = certs(data, "tls.crt")[0]
    old_serving.verify_directly_issued_by(certs(serve.data, "ca.crt")[1])


def test_the_ca_rotates_by_itself_when_a_third_of_its_life_is_left():
    data = created()
    assert plan(data, {}, POLICY, NOW + datetime.timedelta(days=21)).action == "trust-new-ca"


def test_a_secret_without_a_usable_key_is_replaced():
    assert plan({"tls.crt": "", "tls.key": ""}, {}, POLICY, NOW).action == "create"
