"""read_documents(): YAML streams, JSON objects/arrays/streams, Lists, directories, errors."""

from __future__ import annotations

import io

import pytest

from webhook.documents import DocumentError, parse_documents, read_documents


def summary(text: str, source: str = "x.yaml") -> list[tuple[int, int, dict]]:
    return [(d.index, d.line, d.obj) for d in parse_documents(text, source)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\n---\nb: 2\n", [(0, 1, {"a": 1}), (1, 3, {"b": 2})]),
        # empty documents are skipped but still counted
        ("---\n---\n# only a comment\n---\nc: 3\n", [(2, 5, {"c": 3})]),
        ('{"a": 1}\n{"b": 2}\n', [(0, 1, {"a": 1}), (1, 2, {"b": 2})]),
        ('[{"a": 1}, {"b": 2}]', [(0, 1, {"a": 1}), (0, 1, {"b": 2})]),
        # kind: List and *List kinds expand their items in order, keeping the document index
        ("x: 0\n---\nkind: List\nitems:\n- {a: 1}\n- {b: 2}\n", [(0, 1, {"x": 0}), (1, 3, {"a": 1}), (1, 3, {"b": 2})]),
        ("kind: ConfigMapList\nitems: [{a: 1}]\n", [(0, 1, {"a": 1})]),
        # timestamps stay strings, as in Kubernetes' YAML-to-JSON conversion
        ("t: 2024-01-01T00:00:00Z\n", [(0, 1, {"t": "2024-01-01T00:00:00Z"})]),
        # YAML flow style that looks like JSON
        ("{a: 1}\n", [(0, 1, {"a": 1})]),
    ],
)
def test_documents(text, expected):
    assert summary(text) == expected


@pytest.mark.parametrize(
    ("text", "index", "line", "message_start"),
    [
        ("a: 1\n---\nb: [1\n", 1, 4, "invalid YAML: "),
        ("a: 1\na: 2\n", 0, 2, 'invalid YAML: duplicate key "a"'),
        ("- just\n- a list\n", 0, 1, "document is a string, not an object"),
        ("---\n42\n", 0, 2, "document is a number, not an object"),
        ("kind: List\nitems: [1]\n", 0, 1, "items[0] is a number, not an object"),
    ],
)
def test_bad_documents(text, index, line, message_start):
    with pytest.raises(DocumentError) as raised:
        parse_documents(text, "bad.yaml")
    error = raised.value
    assert (error.source, error.index, error.line) == ("bad.yaml", index, line)
    assert error.message.startswith(message_start)
    assert str(error).startswith(f"bad.yaml#{index} (line {line}): ")


def test_invalid_json_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n{"b": }\n')
    with pytest.raises(DocumentError) as raised:
        read_documents(path)
    assert (raised.value.index, raised.value.line) == (1, 2)
    assert raised.value.message == "invalid JSON: Expecting value (line 2, column 7)"


def test_directory_is_read_recursively_in_sorted_order(tmp_path):
    (tmp_path / "b.yaml").write_text("n: b\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "z.json").write_text('{"n": "a/z"}')
    (tmp_path / "c.yml").write_text("n: c\n")
    (tmp_path / "ignored.txt").write_text("n: ignored\n")
    documents = read_documents(tmp_path)
    assert [d.obj["n"] for d in documents] == ["a/z", "b", "c"]
    assert documents[0].source == str(tmp_path / "a" / "z.json")


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a: 1\n---\nb: 2\n"))
    assert [(d.source, d.obj) for d in read_documents("-")] == [("-", {"a": 1}), ("-", {"b": 2})]


def test_missing_file(tmp_path):
    with pytest.raises(DocumentError, match="no such file or directory"):
        read_documents(tmp_path / "absent.yaml")
