"""Hostile manifests: the reader returns plain JSON objects within the limits, or a DocumentError."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import mutations
from tests.fuzz.profile import fuzz_settings
from tests.fuzz.seeds import seeds
from tests.fuzz.targets import documents_target

SEEDS = seeds("documents")
# What YAML's structure is made of, spliced into seeds to reach its corners.
YAML_PIECES = [b"&a ", b"*a", b"<<: *a\n", b"---\n", b"...\n", b"[", b"]", b"{", b"}", b": ", b"- ", b"\t", b"? ",
               b"!!binary ", b"!!set ", b"!!python/object ", b"|\n", b">-\n", b"'", b'"', b"\\u0000", b"\xff", b"\xef\xbb\xbf",
               b"\n  ", b"#", b"%YAML 1.1\n", b"%TAG ! tag:x,2000:\n", b"1e400", b".nan", b"0x1F", b"~"]


@st.composite
def mutated_seeds(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "piece"]))
        if action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        else:
            data[at:at] = draw(st.sampled_from(YAML_PIECES))
    return bytes(data)


@fuzz_settings(300)
@given(mutated_seeds())
def test_mutated_manifests_are_read_or_refused_with_a_document_error(data: bytes) -> None:
    documents_target(data)


@fuzz_settings(200)
@given(st.binary(max_size=500) | st.text(max_size=300).map(str.encode))
def test_random_input_is_read_or_refused_with_a_document_error(data: bytes) -> None:
    documents_target(data)
    documents_target(data, json_only=True)


def _not_a_list_kind(value: dict[str, Any]) -> bool:
    return not (isinstance(value.get("kind"), str) and value["kind"].endswith("List"))


@fuzz_settings(200)
@given(st.dictionaries(st.text(max_size=12), mutations.json_values, max_size=5).filter(_not_a_list_kind))
def test_json_data_written_as_yaml_reads_back_the_same(value: dict[str, Any]) -> None:
    assert documents_target(yaml.safe_dump(value, allow_unicode=False).encode()) == [value]
