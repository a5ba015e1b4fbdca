"""Decoding cel-cpp's serialized CheckedExpr / ParsedExpr into the typed AST."""

from __future__ import annotations

import pytest
from cel_expr_python import cel

from webhook.cel.ast import (
    DYN, Call, CelAstDecodeError, CelType, CheckedAst, Comprehension, Const, CreateList, CreateMap,
    CreateStruct, Ident, Select, decode_checked,
)
from webhook.cel.types import POOL

_INT, _STRING, _BOOL = CelType("int"), CelType("string"), CelType("bool")


@pytest.fixture(scope="module")
def env() -> cel.Env:
    return cel.NewEnv(
        POOL,
        variables={"object": cel.Type.DYN, "s": cel.Type.STRING, "l": cel.Type.List(cel.Type.STRING),
                   "variables": cel.Type.DYN},
    )


def decode(env: cel.Env, expression: str, *, unchecked: bool = False) -> CheckedAst:
    return decode_checked(env.compile(expression, disable_check=unchecked).serialize(), expression)


def nodes_of(ast: CheckedAst, kind: type) -> list:
    return [node for node in ast.walk() if isinstance(node, kind)]


@pytest.mark.parametrize(
    ("expression", "kind", "value", "type_name"),
    [
        ("1", "int", 1, "int"),
        ("-9223372036854775808", "int", -(2**63), "int"),
        ("18446744073709551615u", "uint", 2**64 - 1, "uint"),
        ("2.5", "double", 2.5, "double"),
        ("'héllo'", "string", "héllo", "string"),
        ("b'\\x00\\xff'", "bytes", b"\x00\xff", "bytes"),
        ("true", "bool", True, "bool"),
        ("null", "null", None, "null_type"),
    ],
)
def test_constants_keep_their_kind_value_and_type(env, expression, kind, value, type_name) -> None:
    root = decode(env, expression).expr
    assert isinstance(root, Const)
    assert (root.kind, root.value, str(root.type)) == (kind, value, type_name)


def test_select_chain_has_operands_fields_offsets_and_types(env) -> None:
    ast = decode(env, "object.spec.replicas")
    root = ast.expr
    assert isinstance(root, Select) and root.field == "replicas" and not root.test_only
    assert isinstance(root.operand, Select) and root.operand.field == "spec"
    assert isinstance(root.operand.operand, Ident) and root.operand.operand.name == "object"
    # cel-go and cel-cpp place a select at its dot
    assert (root.offset, root.operand.offset, root.operand.operand.offset) == (11, 6, 0)
    assert root.type == DYN


def test_has_macro_is_a_test_only_select(env) -> None:
    root = decode(env, "has(object.spec)").expr
    assert isinstance(root, Select) and root.test_only and root.field == "spec"
    assert root.type == _BOOL


def test_calls_carry_function_overload_ids_receiver_and_type(env) -> None:
    ast = decode(env, "s.startsWith('a') && size(l) > 1")
    calls = {call.function: call for call in nodes_of(ast, Call)}
    assert calls["_&&_"].overload_ids == ("logical_and",)
    assert calls["startsWith"].overload_ids == ("starts_with_string",)
    assert isinstance(calls["startsWith"].target, Ident) and calls["startsWith"].target.name == "s"
    assert calls["size"].target is None and calls["size"].overload_ids == ("size_list",)
    assert calls["_>_"].type == _BOOL and calls["size"].type == _INT


def test_list_and_map_literals_and_their_types(env) -> None:
    ast = decode(env, "[1, 2] == [] && {'a': [s]} != {}")
    lists = nodes_of(ast, CreateList)
    assert [len(lst.elements) for lst in lists] == [2, 0, 1]
    assert str(lists[0].type) == "list(int)"
    maps = [m for m in nodes_of(ast, CreateMap) if m.entries]
    assert len(maps) == 1 and str(maps[0].type) == "map(string, list(string))"
    entry = maps[0].entries[0]
    assert isinstance(entry.key, Const) and entry.key.value == "a" and not entry.optional


def test_message_construction_is_a_create_struct(env) -> None:
    root = decode(env, "google.protobuf.Duration{seconds: 5}").expr
    assert isinstance(root, CreateStruct)
    assert root.message_name == "google.protobuf.Duration"
    assert [(e.field, e.value.value) for e in root.entries] == [("seconds", 5)]
    assert str(root.type) == "google.protobuf.Duration"


def test_comprehension_parts_of_an_all_macro(env) -> None:
    root = decode(env, "l.all(x, x != '')").expr
    assert isinstance(root, Comprehension)
    assert (root.iter_var, root.iter_var2) == ("x", "")
    assert isinstance(root.iter_range, Ident) and root.iter_range.name == "l"
    assert str(root.iter_range.type) == "list(string)"
    assert isinstance(root.accu_init, Const) and root.accu_init.value is True
    assert isinstance(root.loop_condition, Call) and root.loop_condition.function == "@not_strictly_false"
    assert isinstance(root.loop_step, Call) and root.loop_step.function == "_&&_"
    assert isinstance(root.result, Ident) and root.result.name == root.accu_var
    assert root.type == _BOOL


def test_type_values_and_nested_types_print_like_cel_go(env) -> None:
    ast = decode(env, "type(1) == int && duration('1s') < duration('2s') && [[1]] == [[2]]")
    printed = {str(node.type) for node in ast.walk()}
    assert {"type(int)", "google.protobuf.Duration", "list(list(int))", "bool"} <= printed


def test_unchecked_compile_decodes_a_parsed_expr_without_types(env) -> None:
    ast = decode(env, "object.a < 1.0 && [1, 'a'] == []", unchecked=True)
    assert not ast.checked
    assert all(node.type == DYN for node in ast.walk())
    assert all(call.overload_ids == () for call in nodes_of(ast, Call))
    assert {call.function for call in nodes_of(ast, Call)} >= {"_<_", "_&&_", "_==_"}


def test_offsets_are_code_points_and_locations_follow_cel_go(env) -> None:
    expression = "'é' == s &&\n  s.size() > 1"
    ast = decode(env, expression)
    size_call = next(c for c in nodes_of(ast, Call) if c.function == "size")
    assert ast.location(size_call.offset) == (2, 8)
    assert ast.location(0) == (1, 0)


@pytest.mark.parametrize(
    ("expression", "fields"),
    [
        ("variables.a && variables.b.c", {"a", "b"}),
        ("has(variables.flag) ? variables['named'] : false", {"flag", "named"}),
        ("[1].all(variables, variables.shadowed) || variables.free", {"free"}),
        ("object.variables.nested == 1", set()),
        ("size(variables) == 0", set()),
    ],
)
def test_selected_fields_names_the_variables_an_expression_uses(env, expression, fields) -> None:
    assert decode(env, expression, unchecked=True).selected_fields("variables") == fields


def test_selected_fields_of_a_checked_expression(env) -> None:
    ast = decode(env, "has(variables.pod.spec) && variables.names.all(n, n != object.name)")
    assert ast.checked and ast.selected_fields("variables") == {"pod", "names"}


def test_garbage_bytes_are_a_decode_error_naming_the_expression() -> None:
    with pytest.raises(CelAstDecodeError, match="cannot decode the compiled form of 'x'"):
        decode_checked(b"\x0a\x05hello\xff", "x")


def test_wrong_message_type_is_a_decode_error() -> None:
    url = b"type.googleapis.com/other.Thing"
    envelope = b"\x0a" + bytes([len(url)]) + url
    with pytest.raises(CelAstDecodeError, match="unexpected message type"):
        decode_checked(envelope, "x")


def test_decoded_nodes_are_frozen(env) -> None:
    root = decode(env, "1").expr
    with pytest.raises(AttributeError):
        root.value = 2  # type: ignore[misc]
