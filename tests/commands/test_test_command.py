"""``celgate test``: real command runs, in-process (webhook.cli.main) and as a subprocess."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import jsonschema
import pytest

from webhook.cli import build_parser, main
from webhook.commands import test as test_command

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/cli"
SCHEMA = json.loads((ROOT / "webhook/schemas/test-result.schema.json").read_text())

PRIVILEGED_DENIAL = (
    "pods \"privileged-pod\" is forbidden: ValidatingAdmissionPolicy 'disallow-privileged-containers' "
    "with binding 'disallow-privileged-containers' denied request: privileged containers are not allowed"
)
EXAMPLE_POLICIES = ["--policies", "examples/policies", "--params", "examples/params"]


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)


def celgate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["test", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def celgate_process(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("celgate")
    assert executable, "the celgate console script is installed with the package (pip install -e .)"
    return subprocess.run(
        [executable, "test", *argv], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def json_report(out: str) -> dict:
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    return report


def verdicts(report: dict) -> dict[str, bool]:
    return {result["name"]: result["allowed"] for result in report["results"]}


# The one command from the README: policies found among the inputs are the policy set.
def test_examples_directory_denies_the_privileged_pod_in_the_apiservers_wording() -> None:
    process = celgate_process("examples/")
    assert process.returncode == 1, process.stderr
    assert f"Error from server (Forbidden): {PRIVILEGED_DENIAL}\n" in process.stdout
    assert "DENIED  Pod default/privileged-pod  (examples/manifests/privileged-pod.yaml:2, document 0)" in process.stdout
    assert "ALLOWED Deployment production/web" in process.stdout
    assert "\033[" not in process.stdout, "no colour when stdout is not a terminal"
    assert process.stderr == ""


def test_policy_documents_among_inputs_are_not_admitted_themselves(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(capsys, "examples/", "--output", "json")
    kinds = {result["kind"] for result in json_report(out)["results"]}
    assert code == 1
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert kinds == {"Pod", "Deployment", "Namespace", "ConfigMap"}


def test_with_policies_flag_policy_documents_among_inputs_are_objects(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(capsys, *EXAMPLE_POLICIES, "examples/policies", "--output", "json")
    assert code == 0
    assert {result["kind"] for result in json_report(out)["results"]} == {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }


def test_compliant_deployment_is_allowed_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = celgate(
        capsys, *EXAMPLE_POLICIES, "--namespace-labels", "production=environment=production",
        "examples/manifests/compliant-deployment.yaml",
    )
    assert (code, err) == (0, "")
    assert out.startswith("ALLOWED Deployment production/web  (examples/manifests/compliant-deployment.yaml:2, document 0)\n")
    assert out.endswith("1 object: 1 allowed, 0 denied, 0 warnings, 0 errors\n")


def test_stdin_is_read_for_a_dash() -> None:
    manifest = (ROOT / "examples/manifests/privileged-pod.yaml").read_text()
    process = celgate_process(*EXAMPLE_POLICIES, "-", "--output", "json", stdin=manifest)
    assert process.returncode == 1, process.stderr
    [result] = json_report(process.stdout)["results"]
    assert result["source"] == "-#0"
    assert result["status"]["message"] == PRIVILEGED_DENIAL.removeprefix('pods "privileged-pod" is forbidden: ')


def test_stdin_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO((FIXTURES / "manifests/pods-stream.json").read_text()))
    code, out, _ = celgate(capsys, *EXAMPLE_POLICIES, "-", "--output", "json")
    assert code == 1
    assert verdicts(json_report(out)) == {"json-plain": True, "json-privileged": False}


def test_list_items_are_admitted_one_by_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(capsys, *EXAMPLE_POLICIES, str(FIXTURES / "manifests/pod-list.yaml"), "--output", "json")
    report = json_report(out)
    assert code == 1
    assert verdicts(report) == {"listed-privileged": False, "listed-plain": True}
    assert report["summary"] == {"objects": 2, "allowed": 1, "denied": 1, "warnings": 0, "errors": 0}


@pytest.mark.parametrize(
    ("labels", "code"),
    [
        ([], 0),
        (["--namespace-labels", "staging=environment=production"], 1),
        (["--namespace-labels", "staging=environment=dev,tier=web"], 0),
    ],
)
def test_namespace_labels_select_the_namespace_selected_policy(
    capsys: pytest.CaptureFixture[str], labels: list[str], code: int
) -> None:
    result, out, _ = celgate(capsys, *EXAMPLE_POLICIES, *labels, str(FIXTURES / "manifests/staging-deployment.yaml"))
    assert result == code
    if code:
        assert "denied request: Deployment api in namespace staging must have a team label" in out


def test_namespace_objects_among_inputs_label_their_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(
        capsys, *EXAMPLE_POLICIES, "examples/manifests/production-namespace.yaml",
        "examples/manifests/oversized-deployment.yaml", "--output", "json",
    )
    [deployment] = [r for r in json_report(out)["results"] if r["kind"] == "Deployment"]
    assert code == 1
    assert {e["policy"] for e in deployment["evaluations"] if e["result"] == "deny"} == {"replica-limit", "require-team-label"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["--params", "examples/params"], "denied request: replicas must be no greater than 5"),
        ([], "no params found for policy binding with `Deny` parameterNotFoundAction"),
    ],
)
def test_params_come_from_the_params_flag(capsys: pytest.CaptureFixture[str], params: list[str], message: str) -> None:
    code, out, _ = celgate(
        capsys, "--policies", "examples/policies", *params, "examples/manifests/oversized-deployment.yaml"
    )
    assert code == 1
    assert message in out


def test_params_among_inputs_are_found(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(
        capsys, "--policies", "examples/policies", "examples/params", "examples/manifests/oversized-deployment.yaml"
    )
    assert code == 1
    assert "denied request: replicas must be no greater than 5" in out


def test_update_pairs_old_objects_by_identity(capsys: pytest.CaptureFixture[str]) -> None:
    policies = ["--policies", str(FIXTURES / "policies"), "--params", str(FIXTURES / "params")]
    old = ["--operation", "UPDATE", "--old", str(FIXTURES / "update/deployment-old.yaml")]
    code, out, _ = celgate(capsys, *policies, *old, str(FIXTURES / "update/deployment-new-owner.yaml"))
    assert code == 1
    assert (
        "deployments.apps \"checkout\" is forbidden: ValidatingAdmissionPolicy 'immutable-owner-label' with binding "
        "'immutable-owner-label' denied request: the owner label is immutable (was payments)"
    ) in out
    code, _, _ = celgate(capsys, *policies, *old, str(FIXTURES / "update/deployment-same-owner.yaml"))
    assert code == 0


@pytest.mark.parametrize(
    ("user", "code"),
    [
        (["--user", "alice", "--group", "developers"], 1),
        (["--user", "admin", "--group", "system:masters"], 0),
    ],
)
def test_user_and_groups_reach_request_user_info(capsys: pytest.CaptureFixture[str], user: list[str], code: int) -> None:
    policies = ["--policies", str(FIXTURES / "policies"), "--params", str(FIXTURES / "params")]
    result, out, _ = celgate(capsys, *policies, *user, str(FIXTURES / "manifests/kube-system-configmap.yaml"))
    assert result == code
    if code:
        assert "denied request: user alice may not CREATE ConfigMaps in kube-system" in out


def test_junit_output_is_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(capsys, "examples/", "--output", "junit")
    suite = ElementTree.fromstring(out).find("testsuite")
    assert code == 1
    assert suite is not None and suite.get("failures") == "2"


def test_sarif_output_locates_the_offending_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(capsys, *EXAMPLE_POLICIES, str(FIXTURES / "manifests/pod-list.yaml"), "--output", "sarif")
    [run] = json.loads(out)["runs"]
    [finding] = run["results"]
    assert code == 1
    assert finding["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert finding["properties"]["name"] == "listed-privileged"


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ([], "give manifest paths (or - for stdin), or --suite FILE"),
        (["tests/fixtures/cli/manifests/does-not-exist.yaml"], "no such file or directory"),
        (["tests/fixtures/cli/manifests/malformed.yaml"], "invalid YAML"),
        ([*EXAMPLE_POLICIES, "tests/fixtures/cli/manifests/no-kind.yaml"], "object has no kind"),
        ([*EXAMPLE_POLICIES, "--namespace-labels", "staging", "examples/manifests"], "expected NAME=key=value"),
        ([*EXAMPLE_POLICIES, "--namespace-labels", "staging=env", "examples/manifests"], "'env' is not key=value"),
        ([*EXAMPLE_POLICIES, "--operation", "UPDATE", "examples/manifests/privileged-pod.yaml"], "needs the old object (--old)"),
        ([*EXAMPLE_POLICIES, "--old", "examples/manifests/privileged-pod.yaml", "examples/manifests"], "only used with --operation UPDATE"),
        (["--policies", "tests/fixtures/cli/broken", "examples/manifests"], "policies did not load; nothing was evaluated"),
        (["tests/fixtures/cli/broken", "examples/manifests"], "uncompilable"),
        (["--suite", "tests/suites/examples.yaml", "examples/"], "--suite takes no manifest paths"),
    ],
)
def test_usage_and_input_errors_exit_two(capsys: pytest.CaptureFixture[str], argv: list[str], error: str) -> None:
    code, out, err = celgate(capsys, *argv)
    assert code == 2
    assert out == ""
    assert error in err


def test_argparse_usage_errors_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["test", "--operation", "PATCH", "examples/"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'PATCH'" in capsys.readouterr().err


def test_broken_policy_prints_the_load_error_and_evaluates_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = celgate(capsys, "--policies", "tests/fixtures/cli/broken", "examples/manifests")
    assert (code, out) == (2, "")
    assert err.startswith("celgate test: policies did not load; nothing was evaluated:\n1 problem loading policies:\n")
    assert "ValidatingAdmissionPolicy/uncompilable: spec.validations[0].expression" in err
    assert "ERROR: <input>:1:50: Syntax error" in err


@pytest.mark.parametrize("suite", ["tests/suites/examples.yaml", "tests/suites/requests.yaml"])
def test_passing_suite_prints_a_table_and_exits_zero(capsys: pytest.CaptureFixture[str], suite: str) -> None:
    code, out, err = celgate(capsys, "--suite", suite)
    assert (code, err) == (0, "")
    assert "  RESULT  CASE" in out
    assert "FAIL" not in out


def test_failing_suite_exits_one_and_names_the_failures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = celgate(
        capsys, "--suite", "tests/suites/examples.yaml", "--suite", str(FIXTURES / "suites/wrong-expectations.yaml")
    )
    assert code == 1
    assert "  10 cases: 10 passed, 0 failed\n" in out
    assert "  4 cases: 0 passed, 4 failed\n" in out
    assert "FAIL    privileged pod expected allowed" in out


def test_without_policies_in_inputs_the_shipped_directory_is_used(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELGATE_POLICIES", str(ROOT / "examples/policies"))
    code, out, _ = celgate(capsys, "examples/manifests/privileged-pod.yaml")
    assert code == 1
    assert PRIVILEGED_DENIAL in out


def test_evaluation_errors_follow_failure_policy_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--policies", str(FIXTURES / "failure-policy"), "examples/manifests/privileged-pod.yaml"]
    error = "expression 'object.spec.priorityClassName == 'high'' resulted in error: no such key: priorityClassName"
    code, out, _ = celgate(capsys, *argv, "--output", "json")
    [result] = json_report(out)["results"]
    assert code == 1
    assert [(e["policy"], e["result"], e["message"]) for e in result["evaluations"]] == [
        ("runtime-error-fail", "error", error),
        ("runtime-error-ignore", "admit", error),
    ]
    assert json.loads(out)["summary"]["errors"] == 2
    _, out, _ = celgate(capsys, *argv)
    assert f"    error policy=runtime-error-ignore binding=runtime-error-ignore (admitted: failurePolicy Ignore): {error}\n" in out
    assert out.endswith("1 object: 0 allowed, 1 denied, 0 warnings, 2 errors\n")
    _, out, _ = celgate(capsys, *argv, "--output", "sarif")
    [run] = json.loads(out)["runs"]
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("runtime-error-fail", "error"), ("runtime-error-ignore", "warning")]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False)])
def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool) -> None:
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    parser = build_parser()
    terminal = Terminal()
    code = test_command.run(parser.parse_args(["test", *EXAMPLE_POLICIES, "examples/manifests/privileged-pod.yaml"]), stdout=terminal)
    assert code == 1
    assert ("\033[31mDENIED \033[0m" in terminal.getvalue()) is coloured
