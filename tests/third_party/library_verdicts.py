"""A collection's cases judged offline by celgate, on the path ``celgate test`` takes
(webhook.admission.dry_run.admit_documents, which calls the webhook's ``decide``)."""

from __future__ import annotations

from dataclasses import dataclass

from policy_collections import Collection, CollectionCase

from webhook.admission.dry_run import ObjectResult, admit_documents, cluster_for
from webhook.documents import Document
from webhook.policy.loader import PolicySet, load_policy_documents


@dataclass(frozen=True)
class LibraryVerdict:
    """One case: what the library's authors expect and what celgate answered, read the way the
    library's runner reads ``kubectl apply --dry-run=server``."""

    case: CollectionCase
    result: ObjectResult

    @property
    def got(self) -> str:
        decision = self.result.decision
        if not decision.allowed:
            message = self.result.status.message if self.result.status else ""
            return "fail" if f"'{self.case.policy}'" in message else "fail (other denial)"
        return "warn" if any(f"'{self.case.policy}'" in w for w in decision.warnings) else "pass"

    @property
    def agrees(self) -> bool:
        return self.got == self.case.expected


def policy_set(collection: Collection) -> PolicySet:
    return load_policy_documents([Document(collection.name, i, 1, d) for i, d in enumerate(collection.documents)])


def judge(collection: Collection, policies: PolicySet, case: CollectionCase) -> LibraryVerdict:
    labels = {ns["metadata"]["name"]: ns["metadata"].get("labels") or {} for ns in collection.namespaces}
    documents = [Document(case.id, 0, 1, case.obj)]
    cluster = cluster_for(documents, namespace_labels=labels, params=collection.params,
                          param_kinds=policies.param_kinds())
    [result] = admit_documents(policies, documents, cluster)
    return LibraryVerdict(case, result)
