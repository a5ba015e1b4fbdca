"""Reading Kubernetes manifests: YAML (multi-document) and JSON (object, array or stream).

Shared by the policy loader and the CLI. Every document keeps where it came from (file,
document index, line) so errors point at the text a user has to edit. ``kind: List`` (and
``*List`` kinds with ``items``) are expanded the way kubectl expands them.

Input is held to webhook.limits (docs/limits.md): a file or stream of at most
MAX_MANIFEST_BYTES of UTF-8, at most MAX_DOCUMENTS documents, each plain JSON data within the
nesting, string and list limits. YAML aliases are accepted and expanded into copies, as the API
server's decoder does, up to go-yaml's bound (webhook/yaml_limits.py); duplicate keys are
refused, as kubectl's strict decoding refuses them. Every refusal is a :class:`DocumentError`
(a :class:`DocumentLimitError` when a limit was exceeded), never a traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from webhook.limits import MAX_DOCUMENTS, MAX_MANIFEST_BYTES, LimitExceeded, check_json_value, nesting_exceeded
from webhook.yaml_limits import StreamLimitExceeded, check_yaml_stream

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


class DocumentLimitError(DocumentError):
    """A manifest over one of webhook.limits' limits; ``limit`` names it."""

    def __init__(self, source: str, index: int, line: int, message: str, limit: str) -> None:
        super().__init__(source, index, line, message)
        self.limit = limit


def _limit_error(source: str, index: int, line: int, exc: LimitExceeded) -> DocumentLimitError:
    return DocumentLimitError(source, index, line, exc.message, exc.limit)


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
        key = _json_key(loader.construct_object(key_node, deep=deep))
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key must be a string, not a {type(key).__name__}", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f'duplicate key "{key}"', key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_ManifestLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _json_key(key: Any) -> Any:
    """A scalar key as the string sigs.k8s.io/yaml makes of it on the way to JSON (``1: a`` is
    ``"1"``); anything else is returned as it is, to be refused."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    return key


def read_documents(path: str | Path) -> list[Document]:
    """Every object document under ``path`` (a file, ``-`` for stdin, or a directory)."""
    if str(path) == "-":
        return parse_documents(_read_stdin(), "-")
    target = Path(path)
    if target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES
        )
        return [doc for file in files for doc in _read_file(file)]
    return _read_file(target)


def _read_file(path: Path) -> list[Document]:
    return parse_documents(read_manifest_text(path), str(path), json_only=path.suffix.lower() == ".json")


def read_manifest_text(path: Path) -> str:
    """A file's text: at most MAX_MANIFEST_BYTES of UTF-8, or DocumentError saying why not."""
    try:
        with path.open("rb") as stream:
            data = _read_bounded(stream, str(path))
    except FileNotFoundError:
        raise DocumentError(str(path), 0, 0, "no such file or directory") from None
    except OSError as exc:
        raise DocumentError(str(path), 0, 0, f"cannot read: {exc}") from None
    return decode_manifest(data, str(path))


def _read_stdin() -> str:
    binary = getattr(sys.stdin, "buffer", None)  # absent when a caller swapped in a text stream
    if binary is not None:
        return decode_manifest(_read_bounded(binary, "-"), "-")
    return _read_bounded(sys.stdin, "-")


def _read_bounded(stream: Any, source: str) -> Any:
    data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise DocumentLimitError(source, 0, 0, f"larger than the limit of {MAX_MANIFEST_BYTES:,} bytes "
                                 "(MAX_MANIFEST_BYTES); split it into several files", "MAX_MANIFEST_BYTES")
    return data


def decode_manifest(data: bytes, source: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); Kubernetes manifests are UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError(source, 0, line, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, "
                            f"column {column} ({exc.reason})") from None


def parse_documents(text: str, source: str, *, json_only: bool = False) -> list[Document]:
    """Documents from text; JSON when it looks like JSON (or ``json_only``), else YAML."""
    if len(text) > MAX_MANIFEST_BYTES:
        raise DocumentLimitError(source, 0, 0, f"larger than the limit of {MAX_MANIFEST_BYTES:,} bytes "
                                 "(MAX_MANIFEST_BYTES); split it into several files", "MAX_MANIFEST_BYTES")
    stripped = text.lstrip()
    if json_only or stripped.startswith(("{", "[")):
        try:
            raw = list(_json_stream(text, source))
        except DocumentLimitError:
            raise
        except DocumentError:
            if json_only:
                raise
            raw = list(_yaml_stream(text, source))  # YAML flow style also starts with { or [
    else:
        raw = list(_yaml_stream(text, source))
    documents: list[Document] = []
    for index, line, value in raw:
        try:
            check_json_value(value, "document")
        except LimitExceeded as exc:
            raise _limit_error(source, index, line, exc) from None
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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_stream(text: str, source: str) -> Iterator[tuple[int, int, Any]]:
    decoder = json.JSONDecoder(parse_constant=_refuse_constant)
    position, index = 0, 0
    line, counted = 1, 0  # newlines are counted once each, not from the start for every document
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        line += text.count("\n", counted, position)
        counted = position
        if index >= MAX_DOCUMENTS:
            raise DocumentLimitError(source, index, line, f"more than {MAX_DOCUMENTS:,} documents in one file "
                                     "or stream (MAX_DOCUMENTS)", "MAX_DOCUMENTS")
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DocumentError(source, index, exc.lineno, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise _limit_error(source, index, line, nesting_exceeded("document")) from None
        except ValueError as exc:  # NaN or Infinity, or an integer of more than 4,300 digits
            raise DocumentError(source, index, line, f"invalid JSON: {exc}") from None
        yield index, line, value
        index += 1


def _yaml_stream(text: str, source: str) -> Iterator[tuple[int, int, Any]]:
    try:
        shape = check_yaml_stream(_ManifestLoader, text)
    except StreamLimitExceeded as exc:
        raise DocumentLimitError(source, exc.index, exc.line, exc.message, exc.limit) from None
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
                raise _yaml_error(source, exc, index) from None
            if index in shape.aliased:
                value = _unshared(value)
            yield index, line, value
            index += 1
    finally:
        loader.dispose()


def _unshared(value: Any) -> Any:
    """``value`` with every alias a copy of its own, as Kubernetes decodes aliases (the event check
    bounded the depth, aliases included, so this recursion is shallow)."""
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def _yaml_error(source: str, exc: yaml.YAMLError, index: int) -> DocumentError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 0
    return DocumentError(source, index, line, f"invalid YAML: {_yaml_problem(exc)}")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).replace("\n", " ")
