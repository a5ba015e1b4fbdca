"""Results of a real dry run over examples/, shared by the report format tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.admission.dry_run import ObjectResult, admit_documents, cluster_for, split_policy_documents
from webhook.documents import read_documents
from webhook.policy.loader import load_policy_documents

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def example_results() -> list[ObjectResult]:
    documents = read_documents(EXAMPLES)
    policies, objects = split_policy_documents(documents)
    policy_set = load_policy_documents(policies)
    return admit_documents(policy_set, objects, cluster_for(objects, param_kinds=policy_set.param_kinds()))


@pytest.fixture(scope="session")
def example_by_name(example_results: list[ObjectResult]) -> dict[str, ObjectResult]:
    return {result.name: result for result in example_results}
