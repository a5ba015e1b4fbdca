"""webhook/leader.py against a real API server: one Lease, two candidates (two replicas), one
leader at a time; a released Lease is taken over at once, an abandoned one after it expires."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from webhook.leader import LeaseElector

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(cluster):
    api = k8s_config.new_client_from_config(config_file=cluster.kubeconfig)
    namespace = cluster.create_namespace("none", prefix="lease")
    yield api, namespace
    api.close()


def test_two_replicas_never_lead_at_once_and_a_released_lease_moves_over(api):
    client, namespace = api
    name = f"celgate-controller-{uuid.uuid4().hex[:6]}"
    first = LeaseElector(client, namespace, name, "replica-a", lease_seconds=3, renew_seconds=1)
    second = LeaseElector(client, namespace, name, "replica-b", lease_seconds=3, renew_seconds=1)
    assert first.try_acquire_or_renew() and first.leading
    for _ in range(3):
        assert not second.try_acquire_or_renew() and not second.leading
        assert first.try_acquire_or_renew()
    first.release()
    assert not first.leading
    assert second.try_acquire_or_renew() and second.leading
    lease = k8s_client.CoordinationV1Api(client).read_namespaced_lease(name, namespace)
    assert lease.spec.holder_identity == "replica-b" and lease.spec.lease_transitions == 1


def test_an_abandoned_lease_is_taken_over_after_it_expires(api):
    client, namespace = api
    name = f"celgate-controller-{uuid.uuid4().hex[:6]}"
    crashed = LeaseElector(client, namespace, name, "replica-a", lease_seconds=2, renew_seconds=1)
    survivor = LeaseElector(client, namespace, name, "replica-b", lease_seconds=2, renew_seconds=1)
    assert crashed.try_acquire_or_renew()
    assert not survivor.try_acquire_or_renew()
    time.sleep(2.5)  # replica-a stopped renewing
    assert survivor.try_acquire_or_renew() and survivor.leading
    assert not crashed.try_acquire_or_renew() and not crashed.leading
