"""``celgate eval``: results as JSON, exit codes 0/2/3, and the JSON-lines batch mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from webhook.cel import compat
from webhook.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures/commands/eval"


def eval_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("expression", "options", "printed"),
    [
        ("object.spec.replicas > 1.5", ["--object", "deployment.yaml"], True),
        ("object.metadata.creationTimestamp", ["--object", "deployment.yaml"], "2024-01-01T00:00:00Z"),
        ("has(object.spec.paused)", ["--object", "deployment.yaml"], False),
        ("object.spec.replicas - oldObject.spec.replicas", ["--object", "deployment.yaml", "--old-object", "old-deployment.json"], 2),
        ("object.spec.replicas <= int(params.data.maxReplicas)", ["--object", "deployment.yaml", "--params", "params.yaml"], True),
        ("namespaceObject.metadata.labels.environment", ["--namespace-object", "namespace.yaml"], "production"),
        ("request.operation == 'UPDATE' && request.userInfo.username == 'alice'", ["--request", "request.json"], True),
        ("variables.limit * 2", ["--var", "limit=21"], 42),
        ("variables.names.join(',')", ["--var", 'names=["a","b"]'], "a,b"),
        ("object.spec.template.spec.containers.map(c, c.image)", ["--object", "deployment.yaml"], ["registry.example/web:1.2"]),
        ("oldObject == null", [], True),
        ("2.5 * 2.0", [], 5.0),
        ("1.0 / 0.0", [], "+Inf"),
        ("b'hi'", [], "aGk="),
        ("duration('90m')", [], "5400s"),
        ("duration('1.5s') + duration('1ms')", [], "1.501s"),
        ("type(1)", [], "int"),
        ("{'k': [dyn(1u), dyn(true), dyn(null)]}", [], {"k": [1, True, None]}),
        ("object.?spec.?replicas", ["--object", "deployment.yaml"], 3),
        ("object.spec.template.spec.containers[?0].name", ["--object", "deployment.yaml"], "app"),
        ("'%s has %d replicas'.format([object.metadata.name, object.spec.replicas])", ["--object", "deployment.yaml"], "web has 3 replicas"),
    ],
)
def test_result_prints_as_json_and_exits_0(capsys, expression, options, printed) -> None:
    resolved = [str(FIXTURES / o) if o.endswith((".yaml", ".json")) else o for o in options]
    code, out, err = eval_cli(capsys, expression, *resolved)
    assert (code, err) == (0, "")
    assert json.loads(out) == printed


def test_quantity_comparison_prints_true(capsys) -> None:
    pytest.importorskip("webhook.cel.library.quantity", reason="the quantity library has not landed")
    expression = 'quantity("1Gi").isGreaterThan(quantity("100Mi"))'
    assert eval_cli(capsys, expression) == (0, "true\n", "")
    assert eval_cli(capsys, 'quantity("1Gi")') == (0, '"1Gi"\n', "")


def test_empty_optional_prints_optional_none(capsys) -> None:
    code, out, _ = eval_cli(capsys, "object.?spec.?paused", "--object", str(FIXTURES / "deployment.yaml"))
    assert (code, out) == (0, "optional.none()\n")


def test_optional_nested_in_a_result_is_a_runtime_error(capsys) -> None:
    code, out, err = eval_cli(capsys, "[optional.none()]")
    assert (code, out) == (3, "")
    assert err.startswith("celgate eval: runtime error: the result cannot be represented outside CEL")


@pytest.mark.xfail(strict=True, reason=compat.difference("D7"))
def test_optional_nested_in_a_result_prints_like_cel_go(capsys) -> None:
    assert eval_cli(capsys, "[optional.none()]") == (0, '["optional.none()"]\n', "")


def test_authorizer_has_no_permissions_offline(capsys) -> None:
    expression = "authorizer.group('apps').resource('deployments').check('delete').allowed()"
    assert eval_cli(capsys, expression, "--request", str(FIXTURES / "request.json")) == (0, "false\n", "")


def test_compile_error_exits_2_with_position(capsys) -> None:
    code, out, err = eval_cli(capsys, "'a' + 1")
    assert (code, out) == (2, "")
    assert err == (
        "celgate eval: compile error: ERROR: <input>:1:5: found no matching overload for '_+_'"
        " applied to '(string, int)'\n"
    )


def test_runtime_error_exits_3_with_cel_go_message(capsys) -> None:
    code, out, err = eval_cli(capsys, "object.spec.paused", "--object", str(FIXTURES / "deployment.yaml"))
    assert (code, out, err) == (3, "", "celgate eval: runtime error: no such key: paused\n")


def test_cost_error_exits_3(capsys) -> None:
    code, _, err = eval_cli(
        capsys, "variables.xs.all(a, variables.xs.all(b, variables.xs.all(c, a + b + c >= 0)))",
        "--var", f"xs={list(range(300))}",
    )
    assert (code, err) == (3, "celgate eval: cost error: operation cancelled: actual cost limit exceeded\n")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--object", "missing.yaml"], "--object {dir}/missing.yaml: no such file or directory"),
        (["--params", "malformed.yaml"], "--params {dir}/malformed.yaml: "),
        (["--object", "two-documents.yaml"], "--object {dir}/two-documents.yaml: expected exactly one object, found 2"),
        (["--var", "limit"], "--var 'limit': expected NAME=JSON, e.g. --var limit=5"),
        (["--var", "name=alice"], "--var name: value is not JSON"),
    ],
)
def test_unusable_input_exits_2(capsys, options, message) -> None:
    resolved = [str(FIXTURES / o) if o.endswith((".yaml", ".json")) else o for o in options]
    code, out, err = eval_cli(capsys, "true", *resolved)
    assert (code, out) == (2, "")
    assert err.startswith("celgate eval: " + message.format(dir=FIXTURES))
    assert err.count("\n") == 1


def test_missing_expression_exits_2(capsys) -> None:
    code, _, err = eval_cli(capsys)
    assert (code, err) == (2, "celgate eval: missing EXPRESSION (or --batch FILE)\n")


def test_batch_answers_every_line_in_order(capsys) -> None:
    code, out, err = eval_cli(capsys, "--batch", str(FIXTURES / "batch.jsonl"))
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"value": 4}
    assert lines[1] == {"error": "no such key: missing", "kind": "runtime"}
    assert lines[2]["kind"] == "compile" and lines[2]["error"].startswith("ERROR: <input>:1:5: found no matching overload")
    assert lines[3]["kind"] == "input" and lines[3]["error"].startswith("line is not JSON")
    assert lines[4] == {"optional": "none"}
    assert lines[5] == {"value": [1, 2], "optional": "some"}
    assert lines[6] == {"value": True}
    assert lines[7] == {"value": "aGk="}
    assert lines[8] == {"error": 'expected an object with a string "expr"', "kind": "input"}
    assert lines[9]["kind"] == "input" and lines[9]["error"].startswith("unknown variable(s) obj")
    assert lines[10] == {"value": ["5400s", "2024-01-01T00:00:00Z", 2.5, "int"]}
    assert lines[11] == {"error": "division by zero", "kind": "runtime"}
    assert len(lines) == 12  # the blank input line produces no output


def test_unreadable_batch_file_exits_2(capsys) -> None:
    code, out, err = eval_cli(capsys, "--batch", str(FIXTURES / "absent.jsonl"))
    assert (code, out) == (2, "")
    assert err.startswith(f"celgate eval: --batch {FIXTURES}/absent.jsonl: cannot read:")


def test_installed_command_reads_batch_from_stdin() -> None:
    cases = "\n".join(json.dumps(case) for case in [
        {"expr": "object.spec.containers.exists(c, c.securityContext.?privileged.orValue(false))",
         "vars": {"object": {"spec": {"containers": [{"name": "a", "securityContext": {"privileged": True}}]}}}},
        {"expr": "1 +"},
    ])
    done = subprocess.run(
        [sys.executable, "-m", "webhook.cli", "eval", "--batch", "-"],
        input=cases, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first == {"value": True}
    assert second["kind"] == "compile"


def test_installed_command_exit_code_for_runtime_error() -> None:
    done = subprocess.run(
        ["celgate", "eval", "[1, 2][5]"], capture_output=True, text=True, timeout=60, check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        3, "", "celgate eval: runtime error: index out of bounds: 5\n"
    )


def test_help_lists_eval() -> None:
    done = subprocess.run(["celgate", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert "eval" in done.stdout


def _pod_with_env(tmp_path: Path, count: int) -> str:
    path = tmp_path / f"pod-{count}.json"
    container = {"name": "main", "image": "x", "env": [{"name": f"VAR_{i}", "value": "x"} for i in range(count)]}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}))
    return str(path)


@pytest.mark.parametrize(("expression", "count", "code", "printed"), [
    # issue 10, kube-apiserver v1.35.8's answers: past cel-cpp's iteration cap, within cel-go's cost
    ("object.spec.containers.all(c, c.env.all(e, c.env.exists(f, f.name == e.name)))", 300, 0, "true"),
    ("object.spec.containers.all(c, c.env.all(e, c.env.exists(f, f.name == e.name)))", 600, 3, ""),
    # the upper bound exceeds the limit; cel-go stops paying when the comprehension short-circuits
    ("!object.spec.containers.all(c, c.env.all(e, c.env.all(f, f.name == 'never')))", 2000, 0, "true"),
])
def test_limits_are_cel_gos(capsys, tmp_path, expression, count, code, printed) -> None:
    status, out, err = eval_cli(capsys, expression, "--object", _pod_with_env(tmp_path, count))
    assert status == code
    assert out.strip() == printed
    if code == 3:
        assert "operation cancelled: actual cost limit exceeded" in err


def test_a_presence_test_after_a_short_circuit_is_cel_gos(capsys, tmp_path) -> None:
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                                      "spec": {"template": {"spec": {"hostNetwork": True, "containers": []}}}}))
    expression = "['Deployment','ReplicaSet'].all(kind, object.kind != kind) || !has(object.spec.template.spec.hostNetwork)"
    assert eval_cli(capsys, expression, "--object", str(deployment))[:2] == (0, "false\n")
