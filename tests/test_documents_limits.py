"""Manifests over webhook.limits, and YAML features beyond plain JSON, are DocumentErrors that
say the file, document, line and limit; `celgate test` and `eval` exit 2 on them."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest

from webhook.cli import main
from webhook.documents import DocumentError, DocumentLimitError, parse_documents, read_documents
from webhook.limits import MAX_ALIAS_NODES, MAX_DOCUMENTS, MAX_MANIFEST_BYTES, MAX_STRING_LENGTH


def billion_laughs(levels: int = 9) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:",
             '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def refusal(text: str, source: str = "in.yaml") -> DocumentError:
    with pytest.raises(DocumentError) as raised:
        parse_documents(text, source)
    return raised.value


@pytest.mark.parametrize(
    ("text", "index", "line", "limit", "message"),
    [
        (billion_laughs(), 0, 10, "MAX_ALIAS_NODES", "aliases expand to more than 400,000 nodes"),
        ("a: 1\n---\nm: &m {name: x, self: *m}\n", 1, 3, "YAML", "alias *m is inside its own anchor &m"),
        ("m: &m\n  l: [*m]\n", 0, 2, "YAML", "alias *m is inside its own anchor &m"),
        ("[" * 100_000 + "]" * 100_000, 0, 1, "MAX_NESTING_DEPTH", "deeper than 200 levels"),
        ("kind: x\nspec:\n" + "".join("  " * i + "  - \n" for i in range(300)), 0, 202, "MAX_NESTING_DEPTH", "deeper than 200"),
        ("d: &d " + "[" * 150 + "]" * 150 + "\ne: [" * 1 + "[" * 60 + "*d" + "]" * 61 + "\n", 0, 2, "MAX_NESTING_DEPTH",
         "alias *d expands to nesting deeper than 200"),
        ("a: " + "x" * (MAX_STRING_LENGTH + 1) + "\n", 0, 1, "MAX_STRING_LENGTH", "a scalar of 1,572,865 characters"),
        ('{"a": "' + "x" * (MAX_STRING_LENGTH + 1) + '"}', 0, 1, "MAX_STRING_LENGTH", "document at a: a string of"),
        ("".join(f"---\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(MAX_DOCUMENTS + 1)),
         MAX_DOCUMENTS, 3 * MAX_DOCUMENTS + 1, "MAX_DOCUMENTS", "more than 10,000 documents"),
        ("{}\n" * (MAX_DOCUMENTS + 1), MAX_DOCUMENTS, MAX_DOCUMENTS + 1, "MAX_DOCUMENTS", "more than 10,000 documents"),
    ],
    ids=["billion-laughs", "alias-cycle-flow", "alias-cycle-block", "100k-arrays", "deep-block", "deep-by-alias",
         "huge-scalar", "huge-json-string", "10001-yaml-documents", "10001-json-documents"],
)
def test_a_manifest_over_a_limit_is_refused_with_document_line_and_limit(text, index, line, limit, message) -> None:
    error = refusal(text)
    assert isinstance(error, DocumentLimitError) if limit != "YAML" else True
    assert getattr(error, "limit", "YAML") == limit
    assert (error.index, error.line) == (index, line)
    assert message in error.message


def test_the_billion_laughs_is_refused_fast_and_small() -> None:
    tracemalloc.start()
    started = time.process_time()
    try:
        refusal(billion_laughs(10))  # 9**10 strings expanded
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024


def test_aliases_within_the_bound_are_expanded_into_copies_as_kubernetes_does() -> None:
    [document] = parse_documents("kind: ConfigMap\nmetadata: {name: x, labels: &l {a: b}, annotations: *l}\n", "in.yaml")
    metadata = document.obj["metadata"]
    assert metadata["labels"] == metadata["annotations"] == {"a": "b"}
    assert metadata["labels"] is not metadata["annotations"]


def test_aliases_just_under_the_bound_are_accepted() -> None:
    items = ", ".join(["*a"] * (MAX_ALIAS_NODES // 10 - 1))
    [document] = parse_documents(f"kind: ConfigMap\nbase: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nmany: [{items}]\n", "in.yaml")
    assert len(document.obj["many"]) == MAX_ALIAS_NODES // 10 - 1


def test_a_stream_of_10000_documents_is_read() -> None:
    text = "".join(f"---\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(MAX_DOCUMENTS))
    documents = parse_documents(text, "in.yaml")
    assert (len(documents), documents[-1].index) == (MAX_DOCUMENTS, MAX_DOCUMENTS - 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", 'duplicate key "a"'),
        ("a: {1: x, '1': y}\n", 'duplicate key "1"'),
        ("name: !!binary aGVsbG8=\n", "document at name: a bytes value has no JSON form"),
        ("when: !!timestamp 2024-01-01\n", "document at when: a date value has no JSON form"),
        ("s: !!set {a, b}\n", "document at s: a set value has no JSON form"),
        ("s: &s !!set {a}\nt: *s\n", "a set value has no JSON form"),  # aliased: copied first
        ("s: &s !!binary aGVsbG8=\nt: [*s]\n", "a bytes value has no JSON form"),
        ("x: .nan\n", "document at x: nan is not a JSON number"),
        ("? [a, b]\n: c\n", "a mapping key must be a string, not a list"),
        ("a: !custom x\n", "could not determine a constructor for the tag '!custom'"),
    ],
)
def test_yaml_beyond_plain_json_data_is_refused(text: str, message: str) -> None:
    assert message in refusal(text).message


def test_nan_in_a_json_file_is_refused() -> None:
    with pytest.raises(DocumentError, match="NaN is not JSON"):
        parse_documents('{"a": NaN}', "in.json", json_only=True)


def test_scalar_keys_become_strings_as_sigs_k8s_io_yaml_makes_them() -> None:
    [document] = parse_documents("kind: ConfigMap\ndata: {1: a, true: b, null: c, 1.5: d}\n", "in.yaml")
    assert document.obj["data"] == {"1": "a", "true": "b", "null": "c", "1.5": "d"}


def test_a_file_that_is_not_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("kind: Pod\nmetadata:\n  name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DocumentError) as raised:
        read_documents(path)
    assert (raised.value.index, raised.value.line) == (0, 3)
    assert "not UTF-8 text: byte 0xe9 at line 3, column 12" in raised.value.message


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b'\xef\xbb\xbf{"kind": "Pod"}')
    assert [d.obj for d in read_documents(path)] == [{"kind": "Pod"}]


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_MANIFEST_BYTES + 1)  # sparse: no disk needed
    with pytest.raises(DocumentLimitError) as raised:
        read_documents(path)
    assert raised.value.limit == "MAX_MANIFEST_BYTES"
    assert "larger than the limit of 67,108,864 bytes (MAX_MANIFEST_BYTES)" in raised.value.message


def test_stdin_that_is_not_utf8_is_an_error_not_a_traceback(monkeypatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"kind: Pod\nname: \xff\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    with pytest.raises(DocumentError, match="not UTF-8 text: byte 0xff at line 2"):
        read_documents("-")


@pytest.mark.parametrize("command", [["test"], ["eval", "true", "--object"]])
def test_the_cli_exits_2_with_the_limit_on_a_yaml_bomb(tmp_path: Path, capsys, command: list[str]) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    assert main([*command, str(bomb)]) == 2
    err = capsys.readouterr().err
    assert "MAX_ALIAS_NODES" in err and str(bomb) in err and "line 10" in err
    assert "Traceback" not in err
