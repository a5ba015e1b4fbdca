"""The on-disk store of compile outcomes: a warm start compiles nothing and changes nothing."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment
from webhook.cel.compile_cache import CompileCache, default_directory
from webhook.policy.loader import load_policy_set

VARIABLES = {"object": cel.Type.DYN, "variables": cel.Type.DYN}

# checked, unchecked (cross-type numeric), rewritten for cel-go (has() on a scalar, optMap) and optional
EXPRESSIONS = [
    "object.spec.containers.all(c, c.image.startsWith('registry.example/'))",
    "object.spec.replicas < 2.5",
    "has(object.spec.replicas.x)",
    "object.?spec.?template.optMap(t, size(t)).orValue(-1)",
    "object.metadata.name.matches('^[a-z]+$') && object.metadata.name.size() < 10",
]
SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "pod-security"
DATA = {"object": {"metadata": {"name": "web"}, "spec": {"replicas": 2, "containers": [{"image": "registry.example/a"}]}}}


def _compile_in(directory: Path | None, expression: str):
    return CelEnvironment(VARIABLES, store=CompileCache(directory)).compile(expression)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_stored_compile_is_the_fresh_one(tmp_path: Path, expression: str) -> None:
    fresh = _compile_in(tmp_path, expression)
    stored = _compile_in(tmp_path, expression)
    uncached = _compile_in(None, expression)
    for compiled in (fresh, stored):
        assert (compiled.output_type, compiled.checked, compiled.runnable) == (
            uncached.output_type, uncached.checked, uncached.runnable)
        assert compiled.ast.expr == uncached.ast.expr
        assert compiled.evaluate(DATA) == uncached.evaluate(DATA)
        assert compiled.uniform_cost(64) == uncached.uniform_cost(64)


def test_a_stored_compile_error_is_raised_again_word_for_word(tmp_path: Path) -> None:
    with pytest.raises(CelCompileError) as fresh:
        _compile_in(tmp_path, "object.spec.replicas +")
    entries = [p for p in tmp_path.rglob("*") if p.is_file()]
    with pytest.raises(CelCompileError) as stored:
        _compile_in(tmp_path, "object.spec.replicas +")
    assert len(entries) == 1
    assert stored.value.message == fresh.value.message


def test_a_stored_type_check_gives_the_same_type(tmp_path: Path) -> None:
    text = "cel.bind(x, object.spec.replicas, x + 1)"
    fresh = CelEnvironment(VARIABLES, store=CompileCache(tmp_path)).type_check(text)
    stored = CelEnvironment(VARIABLES, store=CompileCache(tmp_path)).type_check(text)
    assert stored == fresh
    assert fresh.checked


def test_an_unwritable_directory_turns_the_store_off_silently(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = CompileCache(blocker / "compile")
    compiled = CelEnvironment(VARIABLES, store=store).compile(EXPRESSIONS[0])
    assert compiled.evaluate(DATA) is True
    assert not store.enabled


def test_a_planted_entry_is_a_miss_and_runs_nothing(tmp_path: Path) -> None:
    store = CompileCache(tmp_path)
    env = CelEnvironment(VARIABLES, store=store)
    expression = "object.metadata.name == 'web'"
    key = store.key(env._identity, "compile internal=False checks=True", expression)
    marker = tmp_path / "ran"
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / key).write_bytes(pickle.dumps(_Planted(str(marker))))
    assert env.compile(expression).evaluate(DATA) is True
    assert not marker.exists()


class _Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_keys_tell_environments_modes_and_expressions_apart(tmp_path: Path) -> None:
    store = CompileCache(tmp_path)
    keys = {
        store.key("object:DYN", "compile internal=False checks=True", "a"),
        store.key("object:DYN\0params:DYN", "compile internal=False checks=True", "a"),
        store.key("object:DYN", "compile internal=True checks=False", "a"),
        store.key("object:DYN", "compile internal=False checks=True", "b"),
    }
    assert len(keys) == 4


def test_the_store_lives_under_the_cache_root_unless_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CELGATE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("CELGATE_CACHE", str(tmp_path))
    assert default_directory() == tmp_path / "compile"
    monkeypatch.delenv("CELGATE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_directory() == tmp_path / ".cache" / "celgate" / "compile"
    monkeypatch.setenv("CELGATE_COMPILE_CACHE", "off")
    assert default_directory() is None


def _compiled_shape(policy_set) -> dict:
    shape = {}
    for name, compiled in policy_set.policies.items():
        expressions = [*compiled.variables, *compiled.validations, *compiled.match_conditions, *compiled.audit_annotations]
        stages = [stage for plan in (compiled.plans.match, compiled.plans.validate, compiled.plans.audit)
                  for stage in plan.stages]
        shape[name] = (
            [(e.source, e.dependencies, e.inlined, e.direct.output_type, e.direct.checked, e.direct.runnable)
             for e in expressions],
            [(s.program.source, s.first, s.count, s.final, s.needs, s.names, s.program.output_type) for s in stages],
        )
    return shape


def test_the_shipped_policy_set_loads_the_same_from_a_warm_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import webhook.policy.compiler as compiler

    monkeypatch.setattr(compiler, "_stores", [CompileCache(tmp_path)])
    monkeypatch.setattr(compiler, "_envs", {})
    cold = load_policy_set([SHIPPED])
    monkeypatch.setattr(compiler, "_envs", {})  # new environments: nothing in memory, all from disk
    warm = load_policy_set([SHIPPED])
    assert any(tmp_path.rglob("*"))
    assert _compiled_shape(warm) == _compiled_shape(cold)
