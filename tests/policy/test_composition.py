"""Variables by composition: references, rewriting, and errors mapped back to the source."""

from __future__ import annotations

import pytest

from webhook.policy import composition


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("variables.a && variables.b", ["a", "b"]),
        ("'variables.a' + r\"variables.b\" + '''variables.c'''", []),  # inside strings
        ("x.variables.a", []),  # a field of something else
        ("variables.f(1)", []),  # a receiver call
        ("variables.a // variables.b", ["a"]),  # comment
        ("has(variables.a)", ["a"]),
        ("variables . a", ["a"]),
    ],
)
def test_references(expression, names):
    assert [ref.name for ref in composition.references(expression)] == names


def test_rewrite_keeps_positions():
    expression = "variables.a + 'variables.a' + variables.bb"
    rewritten = composition.rewrite(expression, composition.references(expression), {"a", "bb"})
    assert rewritten == "variables_a + 'variables.a' + variables_bb"
    assert len(rewritten) == len(expression)


def test_compose_binds_each_dependency_on_its_own_line():
    composed = composition.compose("variables.b", ["a", "b"], {"a": "1", "b": "variables.a + 1 // note"}, {"a", "b"})
    assert composed.text == "cel.bind(variables_a,\n1\n,cel.bind(variables_b,\nvariables_a + 1 // note\n,\nvariables_b\n))"
    assert composed.text.split("\n")[composed.line_offset] == "variables_b"


def test_errors_in_the_composed_text_point_at_the_original_expression():
    composed = composition.compose("variables.a + 1", ["a"], {"a": "'text'"}, {"a"})
    message = (
        "ERROR: <input>:4:13: found no matching overload for '_+_' applied to '(string, int)'\n"
        " | variables_a + 1\n | ............^"
    )
    assert composition.remap_errors(message, composed, "variables.a + 1") == (
        "ERROR: <input>:1:13: found no matching overload for '_+_' applied to '(string, int)'\n"
        " | variables.a + 1\n | ............^"
    )
