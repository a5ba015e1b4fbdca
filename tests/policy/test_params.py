"""collect_params(): which param objects a binding evaluates its policy with (CollectParams)."""

from __future__ import annotations

import pytest

from webhook.policy.cluster_data import StaticClusterData, WithShippedParams
from webhook.policy.model import Binding, LabelSelector, ParamKind, ParamRef, Policy
from webhook.policy.params import ParamError, collect_params, param_kind_error


def policy(api_version="example.com/v1", kind="Limit"):
    return Policy(name="p", match_constraints=None, param_kind=ParamKind(api_version, kind))


def binding(**ref):
    ref.setdefault("parameter_not_found_action", "Deny")
    return Binding(name="b", policy_name="p", validation_actions=("Deny",), param_ref=ParamRef(**ref))


def limit(name, namespace=None, api_version="example.com/v1", **labels):
    metadata = {"name": name, "labels": labels}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": "Limit", "metadata": metadata}


def names(params):
    return [p["metadata"]["name"] for p in params]


def test_no_param_kind_or_no_param_ref_means_one_evaluation_with_null_params():
    cluster = StaticClusterData()
    assert collect_params(Policy("p", None), binding(name="x"), "default", cluster) == [None]
    assert collect_params(policy(), Binding("b", "p", ("Deny",)), "default", cluster) == [None]


def test_a_custom_kind_whose_objects_have_no_namespace_is_cluster_scoped():
    cluster = StaticClusterData(params=[limit("global")])
    assert names(collect_params(policy(), binding(name="global"), "", cluster)) == ["global"]
    with pytest.raises(ParamError, match=r"^paramRef.namespace must not be provided for a cluster-scoped `paramKind`$"):
        collect_params(policy(), binding(name="global", namespace="default"), "", cluster)


def test_a_namespaced_kind_looks_in_the_request_namespace_unless_told_otherwise():
    cluster = StaticClusterData(params=[limit("l", "team-a"), limit("l", "shared")])
    assert collect_params(policy(), binding(name="l"), "team-a", cluster)[0]["metadata"]["namespace"] == "team-a"
    assert collect_params(policy(), binding(name="l", namespace="shared"), "team-a", cluster)[0]["metadata"]["namespace"] == "shared"
    with pytest.raises(ParamError, match="^cannot use namespaced paramRef in policy binding that matches cluster-scoped resources$"):
        collect_params(policy(), binding(name="l"), "", cluster)


def test_objects_of_another_version_of_the_group_are_found():
    cluster = StaticClusterData(params=[limit("l", "ns", api_version="example.com/v1beta1")])
    assert names(collect_params(policy(), binding(name="l"), "ns", cluster)) == ["l"]


def test_selector_returns_every_match_in_name_order():
    cluster = StaticClusterData(params=[limit("b", "ns", tier="x"), limit("a", "ns", tier="x"), limit("c", "ns")])
    selector = LabelSelector(match_labels=(("tier", "x"),))
    assert names(collect_params(policy(), binding(selector=selector), "ns", cluster)) == ["a", "b"]
    assert names(collect_params(policy(), binding(selector=LabelSelector()), "ns", cluster)) == ["a", "b", "c"]


@pytest.mark.parametrize("cluster", [StaticClusterData(), StaticClusterData(params=[limit("other", "ns")])])
def test_not_found(cluster):
    with pytest.raises(ParamError, match="^no params found for policy binding with `Deny` parameterNotFoundAction$"):
        collect_params(policy(), binding(name="l"), "ns", cluster)
    assert collect_params(policy(), binding(name="l", parameter_not_found_action="Allow"), "ns", cluster) == []


def test_param_kind_error():
    assert param_kind_error(ParamKind("v1", "ConfigMap")) is None
    assert param_kind_error(ParamKind("example.com/v1", "Limit")) is None
    assert param_kind_error(ParamKind("v1", "Nope")) == "failed to find resource referenced by paramKind: '/v1, Kind=Nope'"


def test_shipped_params_exist_unless_the_cluster_has_its_own_of_that_name():
    def configmap(name: str, value: str) -> dict:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"v": value}}

    cluster = StaticClusterData(params=[configmap("a", "cluster")])
    merged = WithShippedParams(cluster, [configmap("a", "shipped"), configmap("b", "shipped")])

    found = {p["metadata"]["name"]: p["data"]["v"] for p in merged.list_params("v1", "ConfigMap", "ns")}
    assert found == {"a": "cluster", "b": "shipped"}
