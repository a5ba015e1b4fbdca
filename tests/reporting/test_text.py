"""The text report: a verdict line per object, then the apiserver's words and each policy's."""

from __future__ import annotations

from webhook.admission.dry_run import ObjectResult
from webhook.reporting import text

PRIVILEGED_DENIAL = (
    "pods \"privileged-pod\" is forbidden: ValidatingAdmissionPolicy 'disallow-privileged-containers' "
    "with binding 'disallow-privileged-containers' denied request: privileged containers are not allowed"
)


def test_each_object_gets_one_verdict_line(example_results: list[ObjectResult]) -> None:
    lines = text.render(example_results).splitlines()
    verdicts = [line for line in lines if line.startswith(("ALLOWED", "DENIED"))]
    assert len(verdicts) == len(example_results)
    assert any(line.startswith("DENIED  Pod default/privileged-pod  (") for line in verdicts)
    assert any(line.startswith("ALLOWED Deployment production/web  (") for line in verdicts)


def test_denial_is_printed_in_the_apiservers_wording_with_policy_and_binding(example_results: list[ObjectResult]) -> None:
    report = text.render(example_results)
    assert f"  Error from server (Forbidden): {PRIVILEGED_DENIAL}\n" in report
    assert (
        "    deny  policy=disallow-privileged-containers binding=disallow-privileged-containers: "
        "privileged containers are not allowed\n"
    ) in report


def test_warnings_are_printed_like_kubectl_prints_them(example_results: list[ObjectResult]) -> None:
    report = text.render(example_results)
    assert (
        "  Warning: Validation failed for ValidatingAdmissionPolicy 'warn-latest-tag' with binding "
        "'warn-latest-tag': images should be pinned to a tag other than latest\n"
    ) in report


def test_summary_counts_objects_verdicts_and_warnings(example_results: list[ObjectResult]) -> None:
    last = text.render(example_results).splitlines()[-1]
    denied = sum(not r.decision.allowed for r in example_results)
    assert last == (
        f"{len(example_results)} objects: {len(example_results) - denied} allowed, {denied} denied, 1 warning, 0 errors"
    )


def test_colour_only_when_asked(example_results: list[ObjectResult]) -> None:
    assert "\033[" not in text.render(example_results)
    coloured = text.render(example_results, colour=True)
    assert "\033[31mDENIED \033[0m" in coloured
    assert "\033[32mALLOWED\033[0m" in coloured
