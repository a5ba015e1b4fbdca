"""The wall clock jumps, seen by celgate's certificate plan through its clock seam (``now``):
webhook/cert_rotation.py decides from ``now``, webhook/certs.py stamps what it issues with the
wall clock. A jump forward rotates early (harmless: the API server still trusts the CA); a jump
back postpones rotation by the jump. A certificate stamped while the clock ran ahead is "not
yet valid" to an API server with the right clock — every call fails, failurePolicy applies —
and the plan does not replace it once the clock is right (xfail below, docs/failure-modes.md)."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509

from webhook.cert_rotation import CertPolicy, plan

POLICY = CertPolicy("celgate", "celgate-system", ca_days=30, cert_days=9, grace_seconds=20)
NOW = datetime.datetime.now(datetime.timezone.utc)


def _created() -> dict[str, str]:
    step = plan(None, {}, POLICY, NOW)
    assert step.action == "create"
    return step.data


def _serving(data: dict[str, str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))


def test_a_clock_jumped_back_a_day_changes_no_certificate() -> None:
    assert plan(_created(), {}, POLICY, NOW - datetime.timedelta(days=1)).action == "none"


def test_a_clock_jumped_forward_past_expiry_rotates_at_once() -> None:
    data = _created()
    ahead = plan(data, {}, POLICY, NOW + datetime.timedelta(days=10))  # past the serving cert's 9 days
    assert ahead.action == "issue-serving"
    # a year ahead, the CA (30 days) itself is due: trust a new CA first, as always
    assert plan(data, {}, POLICY, NOW + datetime.timedelta(days=365)).action == "trust-new-ca"


@pytest.fixture
def clock_ahead(monkeypatch: pytest.MonkeyPatch):
    """webhook/certs.py's wall clock a day ahead (a host whose clock jumped), for issuing only."""
    real = datetime.datetime

    class Ahead(real):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return cls.fromtimestamp(real.now(tz).timestamp() + 86400, tz)

    monkeypatch.setattr(datetime, "datetime", Ahead)


def test_a_certificate_issued_while_the_clock_ran_ahead_is_not_yet_valid(clock_ahead: None) -> None:
    data = plan(None, {}, POLICY, NOW + datetime.timedelta(days=1)).data
    assert _serving(data).not_valid_before_utc > NOW + datetime.timedelta(hours=23)


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="cert_rotation.plan keeps a serving certificate that is not valid yet "
                          "(issued while the clock ran ahead); it should re-issue it")
def test_a_not_yet_valid_serving_certificate_is_reissued_once_the_clock_is_right(
        clock_ahead: None, monkeypatch: pytest.MonkeyPatch) -> None:
    data = plan(None, {}, POLICY, NOW + datetime.timedelta(days=1)).data
    monkeypatch.undo()  # the clock is right again
    assert plan(data, {}, POLICY, NOW).action == "issue-serving"
