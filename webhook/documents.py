"""Reading Kubernetes manifests: YAML (multi-document) and JSON (object, array or stream).

Shared by the policy loader and the CLI. Every document keeps where it came from (file,
document index, line) so errors point at the text a user has to edit. ``kind: List`` (and
``*List`` kinds with ``items``) are expanded the way kubectl expands them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    source: str  # file path, or "-" for stdin
    index: int  # 0-based document number in that source
    line: int  # 1-based line where the document's content starts
    obj: dict[str, Any]


class DocumentError(Exception):
    """A manifest could not be read: malformed YAML/JSON, or a document that is not an object."""

    def __init__(self, source: str, index: int, line: int, message: str) -> None:
        super().__init__(f"{source}#{index} (line {line}): {message}")
        self.source = source
        self.index = index
        self.line = line
        self.message = message


class _ManifestLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: ~10x faster
    """SafeLoader that keeps timestamps as strings (Kubernetes converts YAML to JSON first)
    and rejects duplicate keys, as kubectl's strict decoding does."""


_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _ManifestLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f'duplicate key "{key}"', key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_ManifestLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_documents(path: str | Path) -> list[Document]:
    """Every object document under ``path`` (a file, ``-`` for stdin, or a directory)."""
    if str(path) == "-":
        return parse_documents(sys.stdin.read(), "-")
    target = Path(path)
    if target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES
        )
        return [doc for file in files for doc in _read_file(file)]
    return _read_file(target)


def _read_file(path: Path) -> list[Document]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(str(path), 0, 0, "no such file or directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), 0, 0, f"cannot read: {exc}") from None
    return parse_documents(text, str(path), json_only=path.suffix.lower() == ".json")


def parse_documents(text: str, source: str, *, json_only: bool = False) -> list[Document]:
    """Documents from text; JSON when it looks like JSON (or ``json_only``), else YAML."""
    stripped = text.lstrip()
    if json_only or stripped.startswith(("{", "[")):
        try:
            raw = list(_json_stream(text, source))
        except DocumentError:
            if json_only:
                raise
            raw = list(_yaml_stream(text, source))  # YAML flow style also starts with { or [
    else:
        raw = list(_yaml_stream(text, source))
    documents: list[Document] = []
    for index, line, value in raw:
        documents.extend(_objects(source, index, line, value))
    return documents


def _objects(source: str, index: int, line: int, value: Any) -> Iterator[Document]:
    if value is None:
        return  # an empty document
    if isinstance(value, list):  # a JSON array of objects
        for item in value:
            yield from _objects(source, index, line, item)
        return
    if not isinstance(value, dict):
        raise DocumentError(source, index, line, f"document is a {json_type_name(value)}, not an object")
    kind = value.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(value.get("items"), list):
        for position, item in enumerate(value["items"]):
            if not isinstance(item, dict):
                raise DocumentError(
                    source, index, line, f"items[{position}] is a {json_type_name(item)}, not an object"
                )
            yield Document(source, index, line, item)
        return
    yield Document(source, index, line, value)


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages (``an array``, ``a number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _json_stream(text: str, source: str) -> Iterator[tuple[int, int, Any]]:
    decoder = json.JSONDecoder()
    position, index = 0, 0
    line, counted = 1, 0  # newlines are counted once each, not from the start for every document
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        line += text.count("\n", counted, position)
        counted = position
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DocumentError(source, index, exc.lineno, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        yield index, line, value
        index += 1


def _yaml_stream(text: str, source: str) -> Iterator[tuple[int, int, Any]]:
    loader = _ManifestLoader(text)
    index = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                line = node.start_mark.line + 1 if node is not None else 1
                value = loader.construct_document(node) if node is not None else None
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 1 if mark is not None else 0
                raise DocumentError(source, index, line, f"invalid YAML: {_yaml_problem(exc)}") from None
            yield index, line, value
            index += 1
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).replace("\n", " ")
