"""load_policy_set(): validation as on create, compilation, and all-or-nothing loading.

The ``.expected`` files hold kube-apiserver's field-error wording (validation.go, apimachinery
field errors) for every problem in the matching ``.yaml``; ``{dir}`` stands for the directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.policy.errors import PolicyLoadError
from webhook.policy.loader import load_policy_set

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "policy"
INVALID = FIXTURES / "invalid"


def load_error(*names: str) -> str:
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_set([INVALID / name for name in names])
    return str(raised.value).replace(str(INVALID), "{dir}")


@pytest.mark.parametrize("name", ["bad-expression", "fields", "scopes", "variable-types"])
def test_every_problem_is_reported(name):
    expected = (INVALID / f"{name}.expected").read_text().rstrip("\n")
    assert load_error(f"{name}.yaml") == expected


def test_compile_error_names_policy_validation_index_and_expression():
    text = load_error("bad-expression.yaml")
    assert (
        "{dir}/bad-expression.yaml#0 ValidatingAdmissionPolicy/mixed: spec.validations[1].expression: "
        "Invalid value: \"object.spec.containers.all(c, c.image.startsWith('registry/')\": compilation failed: "
        "ERROR: <input>:1:62: Syntax error: missing ')' at '<EOF>'\n"
        "     | object.spec.containers.all(c, c.image.startsWith('registry/')\n"
        "     | .............................................................^"
    ) in text
    # the good validations around it are not mentioned
    assert "spec.validations[0]" not in text


def test_problems_are_listed_with_a_count():
    assert load_error("dangling-binding.yaml") == (
        "1 problem loading policies:\n"
        "  {dir}/dangling-binding.yaml#0 ValidatingAdmissionPolicyBinding/dangling: spec.policyName: "
        'Invalid value: "not-loaded": no ValidatingAdmissionPolicy with this name was loaded'
    )


def test_malformed_yaml_is_a_problem_of_its_document():
    text = load_error("malformed.yaml")
    assert text.startswith("1 problem loading policies:\n  {dir}/malformed.yaml#0 <document>: invalid YAML: ")


def test_nothing_is_half_loaded():
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_set([FIXTURES / "replicas.yaml", INVALID / "dangling-binding.yaml"])
    assert len(raised.value.problems) == 1


def test_v1beta1_and_list_documents_are_accepted():
    policy_set = load_policy_set([FIXTURES / "v1beta1-and-list.yaml"])
    assert policy_set.names() == ["beta-policy"]
    assert list(policy_set.bindings) == ["beta-binding"]
    assert policy_set.param_kinds() == {("example.com/v1", "Limit")}
    policy = policy_set.policies["beta-policy"].policy
    # API server defaults
    assert (policy.failure_policy, policy.match_constraints.match_policy) == ("Fail", "Equivalent")


def test_each_load_has_a_new_generation():
    first = load_policy_set([FIXTURES / "replicas.yaml"])
    second = load_policy_set([FIXTURES / "replicas.yaml"])
    assert second.generation > first.generation
    assert first.param_kinds() == set()


def test_a_directory_loads_every_manifest_in_it(tmp_path):
    (tmp_path / "a.yaml").write_text((FIXTURES / "replicas.yaml").read_text())
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b.yml").write_text((FIXTURES / "equivalent.yaml").read_text())
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert load_policy_set([tmp_path]).names() == ["replica-limit", "show-request-equivalent", "show-request-exact"]


def test_duplicate_policy_across_files():
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_set([FIXTURES / "replicas.yaml", FIXTURES / "replicas.yaml"])
    messages = [f"{p.kind}/{p.name}: {p.field}: {p.message}" for p in raised.value.problems]
    source = FIXTURES / "replicas.yaml"
    assert messages == [
        f'ValidatingAdmissionPolicy/replica-limit: metadata.name: Duplicate value: "replica-limit": also defined at {source}#0',
        f'ValidatingAdmissionPolicyBinding/replica-limit-binding: metadata.name: Duplicate value: "replica-limit-binding": also defined at {source}#1',
    ]


def test_mistyped_fields_are_reported_before_anything_else(tmp_path):
    path = tmp_path / "typed.yaml"
    path.write_text(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
        "metadata: {name: typed}\nspec:\n  validations: not-a-list\n  failurePolicy: [Fail]\n"
    )
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_set([path])
    assert [(p.field, p.message) for p in raised.value.problems] == [
        ("spec.validations", 'Invalid value: "not-a-list": must be a list'),
        ("spec.failurePolicy", 'Invalid value: ["Fail"]: must be a string'),
    ]


PARAM_POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: limited}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validations:
  - expression: "true"
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: defaults}
data: {max: "3"}
"""


def test_objects_of_a_policys_param_kind_are_the_sets_default_params(tmp_path):
    (tmp_path / "policy.yaml").write_text(PARAM_POLICY)
    (tmp_path / "params.yaml").write_text(CONFIGMAP)

    policy_set = load_policy_set([tmp_path])

    assert [(p["kind"], p["metadata"]["name"]) for p in policy_set.params] == [("ConfigMap", "limits")]


def test_an_object_no_policy_takes_as_params_is_still_a_problem(tmp_path):
    (tmp_path / "params.yaml").write_text(CONFIGMAP)

    with pytest.raises(PolicyLoadError, match="ConfigMap/limits: not a ValidatingAdmissionPolicy"):
        load_policy_set([tmp_path])
